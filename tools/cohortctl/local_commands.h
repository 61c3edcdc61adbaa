#ifndef COHORT_TOOLS_COHORTCTL_LOCAL_COMMANDS_H_
#define COHORT_TOOLS_COHORTCTL_LOCAL_COMMANDS_H_

namespace cohort::tools {

// `cohortctl predict --socket=PATH --images=IDX --labels=IDX [--count=N
// --start=I --batch=B] [--json]`: sends images [start, start + count) of an
// IDX pair (gzipped or plain; Fashion-MNIST's form) to the device agent's
// local Predict service (client/agent/local_client.h) in batches of B, and
// prints each answer (label, confidence, the true label), the model that
// answered (version, release, kernels) and the accuracy. Returns the exit
// code: 0, 2 for bad usage or unreadable files, 1 when the agent refuses
// or cannot be reached.
int RunPredictCommand(bool json);

// `cohortctl examples add --socket=PATH --population=NAME --images=IDX
// --labels=IDX [--count=N --start=I --batch=B]`: what an application on the
// device does, from the command line: defines the population ([1, 28, 28],
// 10 classes) and adds images [start, start + count) of an IDX pair as
// training examples through the agent's local API, B per call. Prints what
// the population holds. Exit codes as RunPredictCommand.
int RunExamplesAddCommand();

}  // namespace cohort::tools

#endif  // COHORT_TOOLS_COHORTCTL_LOCAL_COMMANDS_H_
