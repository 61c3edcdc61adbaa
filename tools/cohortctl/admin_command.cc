#include "tools/cohortctl/admin_command.h"

#include <cstdio>
#include <memory>
#include <string>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cohort/v1/admin.grpc.pb.h"
#include "common/base/files.h"
#include "common/base/status_macros.h"
#include "grpcpp/grpcpp.h"
#include "tools/cohortctl/admin_report.h"

ABSL_FLAG(std::string, admin_address, "",
          "versions, releases, status, rollback: host:port of the "
          "coordinator's admin port (admin.listen_address).");
ABSL_FLAG(std::string, ca_cert, "",
          "admin commands: PEM file of the CA that signed the coordinator's "
          "certificate (its tls.ca_cert_path).");
ABSL_FLAG(std::string, cert, "",
          "admin commands: the operator's certificate (PEM), signed by that "
          "CA, with a common name in the server's admin.allowed_subjects.");
ABSL_FLAG(std::string, key, "",
          "admin commands: the operator certificate's private key (PEM).");
ABSL_FLAG(std::string, server_name, "localhost",
          "admin commands: the name the coordinator's certificate must carry.");
ABSL_FLAG(std::string, task, "", "admin commands: the task to act on.");
ABSL_FLAG(int64_t, to_version, 0,
          "rollback: the committed version whose weights devices get again.");
ABSL_FLAG(std::string, reason, "",
          "rollback: why (required; recorded in the release log).");

namespace cohort::tools {
namespace {

constexpr char kAdminUsage[] =
    "  cohortctl versions|releases|status --task=T --admin_address=HOST:PORT\n"
    "      --ca_cert=ca.crt --cert=operator.crt --key=operator.key [--json]\n"
    "  cohortctl rollback --task=T --to_version=V --reason=TEXT "
    "--admin_address=...\n"
    "      --ca_cert=... --cert=... --key=... [--json]\n";

// Reads are quick; a rollback waits for the round engine (at most two
// minutes, RoundEngine::RollBack) and then the store.
constexpr absl::Duration kReadDeadline = absl::Seconds(30);
constexpr absl::Duration kRollbackDeadline = absl::Seconds(150);

int Usage(const std::string& why) {
  std::fprintf(stderr, "cohortctl: %s\n%s", why.c_str(), kAdminUsage);
  return 2;
}

// What is wrong with the flags for `command`, or "" when nothing is.
std::string FlagProblem(const std::string& command) {
  const std::pair<const char*, std::string> required[] = {
      {"--admin_address", absl::GetFlag(FLAGS_admin_address)},
      {"--ca_cert", absl::GetFlag(FLAGS_ca_cert)},
      {"--cert", absl::GetFlag(FLAGS_cert)},
      {"--key", absl::GetFlag(FLAGS_key)},
      {"--task", absl::GetFlag(FLAGS_task)},
  };
  for (const auto& [name, value] : required) {
    if (value.empty()) return absl::StrCat(command, " needs ", name);
  }
  if (command != "rollback") return "";
  if (absl::GetFlag(FLAGS_to_version) < 1) {
    return "rollback needs --to_version >= 1 (see `cohortctl versions`)";
  }
  if (absl::GetFlag(FLAGS_reason).empty()) {
    return "rollback needs --reason: it is recorded in the release log";
  }
  return "";
}

// A file named by `flag`, with the flag in the error.
absl::StatusOr<std::string> ReadPem(const char* flag, const std::string& path) {
  auto pem = base::ReadFile(path, 1 << 20);
  if (!pem.ok()) {
    return absl::Status(pem.status().code(),
                        absl::StrCat(flag, ": ", pem.status().message()));
  }
  return pem;
}

// mTLS to the admin port with the operator's certificate.
absl::StatusOr<std::shared_ptr<grpc::Channel>> OperatorChannel() {
  grpc::SslCredentialsOptions ssl;
  COHORT_ASSIGN_OR_RETURN(ssl.pem_root_certs,
                          ReadPem("--ca_cert", absl::GetFlag(FLAGS_ca_cert)));
  COHORT_ASSIGN_OR_RETURN(ssl.pem_cert_chain,
                          ReadPem("--cert", absl::GetFlag(FLAGS_cert)));
  COHORT_ASSIGN_OR_RETURN(ssl.pem_private_key,
                          ReadPem("--key", absl::GetFlag(FLAGS_key)));
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride(absl::GetFlag(FLAGS_server_name));
  return grpc::CreateCustomChannel(absl::GetFlag(FLAGS_admin_address),
                                   grpc::SslCredentials(ssl), args);
}

absl::Status FromGrpc(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

// One call of `command` on `stub`; the text to print.
absl::StatusOr<std::string> Call(const std::string& command,
                                 cohort::v1::Admin::Stub& stub, bool json) {
  const std::string task = absl::GetFlag(FLAGS_task);
  const absl::Duration timeout =
      command == "rollback" ? kRollbackDeadline : kReadDeadline;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  if (command == "versions") {
    cohort::v1::ListVersionsRequest request;
    request.set_task(task);
    cohort::v1::ListVersionsResponse response;
    COHORT_RETURN_IF_ERROR(
        FromGrpc(stub.ListVersions(&context, request, &response)));
    return FormatVersions(response, json);
  }
  if (command == "releases") {
    cohort::v1::ListReleasesRequest request;
    request.set_task(task);
    cohort::v1::ListReleasesResponse response;
    COHORT_RETURN_IF_ERROR(
        FromGrpc(stub.ListReleases(&context, request, &response)));
    return FormatReleases(response, json);
  }
  if (command == "status") {
    cohort::v1::StatusRequest request;
    request.set_task(task);
    cohort::v1::StatusResponse response;
    COHORT_RETURN_IF_ERROR(FromGrpc(stub.Status(&context, request, &response)));
    return FormatStatus(response, json);
  }
  cohort::v1::RollbackRequest request;
  request.set_task(task);
  request.set_to_version(absl::GetFlag(FLAGS_to_version));
  request.set_reason(absl::GetFlag(FLAGS_reason));
  cohort::v1::RollbackResponse response;
  COHORT_RETURN_IF_ERROR(FromGrpc(stub.Rollback(&context, request, &response)));
  return FormatRollback(request.to_version(), response, json);
}

}  // namespace

bool IsAdminCommand(const std::string& command) {
  return command == "versions" || command == "releases" ||
         command == "status" || command == "rollback";
}

int RunAdminCommand(const std::string& command, bool json) {
  if (!IsAdminCommand(command)) return Usage("unknown admin command");
  const std::string problem = FlagProblem(command);
  if (!problem.empty()) return Usage(problem);
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = OperatorChannel();
  if (!channel.ok()) {
    std::fprintf(stderr, "cohortctl: %s\n",
                 channel.status().ToString().c_str());
    return 2;
  }
  std::unique_ptr<cohort::v1::Admin::Stub> stub =
      cohort::v1::Admin::NewStub(*channel);
  absl::StatusOr<std::string> text = Call(command, *stub, json);
  if (!text.ok()) {
    std::fprintf(stderr, "cohortctl: %s %s: %s\n", command.c_str(),
                 absl::GetFlag(FLAGS_admin_address).c_str(),
                 text.status().ToString().c_str());
    return 1;
  }
  std::fputs(text->c_str(), stdout);
  return 0;
}

}  // namespace cohort::tools
