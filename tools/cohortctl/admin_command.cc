#include "tools/cohortctl/admin_command.h"

#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cohort/v1/admin.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "common/base/files.h"
#include "common/base/grpc_status.h"
#include "common/base/status_macros.h"
#include "grpcpp/grpcpp.h"
#include "tools/cohortctl/admin_report.h"

ABSL_FLAG(std::string, admin_address, "",
          "admin commands (versions, releases, status, tasks, devices, "
          "rollback, promote, pin, pause, resume): host:port of the "
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
ABSL_FLAG(std::string, task, "",
          "admin commands but tasks: the task to act on.");
ABSL_FLAG(int64_t, to_version, 0,
          "rollback, promote, pin: the committed version whose weights "
          "devices get (see `cohortctl versions`).");
ABSL_FLAG(std::string, reason, "",
          "rollback, promote, pin: why (required; recorded in the release "
          "log). pause, resume: why (optional; logged).");
ABSL_FLAG(int32_t, limit, 0,
          "devices: at most this many devices (0: the coordinator's default "
          "and cap, 1000).");
ABSL_FLAG(std::string, service, "",
          "health: the service to ask about (\"\" = the whole server).");
ABSL_FLAG(std::string, device_id, "",
          "enroll-token: the device id the token may enroll.");
ABSL_FLAG(int32_t, ttl_hours, 24,
          "enroll-token: hours until the token expires, in [1, 720].");
ABSL_FLAG(std::string, token_out, "",
          "enroll-token: write the token to this file (mode 0600) instead of "
          "printing it.");
ABSL_FLAG(int64_t, release, 0,
          "manifest: the release whose signed manifest to fetch (0: the "
          "task's current release).");
ABSL_FLAG(std::string, manifest_out, "",
          "manifest: the file to write the SignedManifest to.");
ABSL_FLAG(std::string, after, "",
          "devices: list the devices whose id comes after this one (the "
          "next page: the last id of the previous one).");

namespace cohort::tools {
namespace {

using cohort::v1::Admin;

constexpr char kAdminUsage[] =
    "  cohortctl versions|releases|status|devices --task=T "
    "--admin_address=HOST:PORT\n"
    "      --ca_cert=ca.crt --cert=operator.crt --key=operator.key [--json]\n"
    "      (devices: [--limit=N] [--after=DEVICE_ID])\n"
    "  cohortctl tasks --admin_address=... --ca_cert=... --cert=... "
    "--key=... [--json]\n"
    "  cohortctl rollback|promote|pin --task=T --to_version=V --reason=TEXT\n"
    "      --admin_address=... --ca_cert=... --cert=... --key=... [--json]\n"
    "  cohortctl pause|resume --task=T [--reason=TEXT] --admin_address=...\n"
    "      --ca_cert=... --cert=... --key=... [--json]\n"
    "  cohortctl health --admin_address=HOST:PORT (admin or device port)\n"
    "      --ca_cert=... --cert=... --key=... [--service=NAME] [--json]\n"
    "      exit 0 when SERVING, 1 otherwise\n"
    "  cohortctl enroll-token --device_id=ID [--ttl_hours=24] "
    "[--token_out=FILE]\n"
    "      --admin_address=... --ca_cert=... --cert=... --key=... [--json]\n"
    "      a single-use enrollment token for one device\n"
    "  cohortctl manifest --task=T [--release=N] --manifest_out=FILE\n"
    "      --admin_address=... --ca_cert=... --cert=... --key=... [--json]\n"
    "      a release's signed manifest, for cohortctl model export --manifest\n";

// Reads are quick; a release waits for the round engine (at most two
// minutes, RoundEngine::RollBack) and then the store.
constexpr absl::Duration kReadDeadline = absl::Seconds(30);
constexpr absl::Duration kReleaseDeadline = absl::Seconds(150);

// One call on the admin API; returns the text to print.
using CallFn = absl::StatusOr<std::string> (*)(Admin::Stub& stub,
                                               grpc::ClientContext& context,
                                               bool json);
// One call on a channel (the admin API through OnAdmin, or health).
using ChannelFn = absl::StatusOr<std::string> (*)(
    const std::shared_ptr<grpc::Channel>& channel,
    grpc::ClientContext& context, bool json);

// One admin command: the flags it needs and its call.
struct AdminCommand {
  const char* name;
  // Needs --task (every command but tasks).
  bool needs_task;
  // Publishes a release: needs --to_version and --reason, and waits up to
  // kReleaseDeadline.
  bool releases;
  ChannelFn call;
};

absl::Status FromGrpc(const grpc::Status& status) {
  return base::FromGrpcStatus(status);
}

absl::StatusOr<std::string> CallVersions(Admin::Stub& stub,
                                         grpc::ClientContext& context,
                                         bool json) {
  cohort::v1::ListVersionsRequest request;
  request.set_task(absl::GetFlag(FLAGS_task));
  cohort::v1::ListVersionsResponse response;
  COHORT_RETURN_IF_ERROR(
      FromGrpc(stub.ListVersions(&context, request, &response)));
  return FormatVersions(response, json);
}

absl::StatusOr<std::string> CallReleases(Admin::Stub& stub,
                                         grpc::ClientContext& context,
                                         bool json) {
  cohort::v1::ListReleasesRequest request;
  request.set_task(absl::GetFlag(FLAGS_task));
  cohort::v1::ListReleasesResponse response;
  COHORT_RETURN_IF_ERROR(
      FromGrpc(stub.ListReleases(&context, request, &response)));
  return FormatReleases(response, json);
}

absl::StatusOr<std::string> CallStatus(Admin::Stub& stub,
                                       grpc::ClientContext& context,
                                       bool json) {
  cohort::v1::StatusRequest request;
  request.set_task(absl::GetFlag(FLAGS_task));
  cohort::v1::StatusResponse response;
  COHORT_RETURN_IF_ERROR(FromGrpc(stub.Status(&context, request, &response)));
  return FormatStatus(response, json);
}

absl::StatusOr<std::string> CallTasks(Admin::Stub& stub,
                                      grpc::ClientContext& context, bool json) {
  cohort::v1::ListTasksRequest request;
  cohort::v1::ListTasksResponse response;
  COHORT_RETURN_IF_ERROR(
      FromGrpc(stub.ListTasks(&context, request, &response)));
  return FormatTasks(response, json);
}

absl::StatusOr<std::string> CallDevices(Admin::Stub& stub,
                                        grpc::ClientContext& context,
                                        bool json) {
  cohort::v1::ListDevicesRequest request;
  request.set_task(absl::GetFlag(FLAGS_task));
  request.set_limit(absl::GetFlag(FLAGS_limit));
  request.set_after(absl::GetFlag(FLAGS_after));
  cohort::v1::ListDevicesResponse response;
  COHORT_RETURN_IF_ERROR(
      FromGrpc(stub.ListDevices(&context, request, &response)));
  return FormatDevices(response, json);
}

// Rollback, Promote and Pin share their request and answer.
using ReleaseRpc = grpc::Status (Admin::Stub::*)(
    grpc::ClientContext*, const cohort::v1::RollbackRequest&,
    cohort::v1::RollbackResponse*);

absl::StatusOr<std::string> CallRelease(ReleaseRpc rpc, const char* action,
                                        Admin::Stub& stub,
                                        grpc::ClientContext& context,
                                        bool json) {
  cohort::v1::RollbackRequest request;
  request.set_task(absl::GetFlag(FLAGS_task));
  request.set_to_version(absl::GetFlag(FLAGS_to_version));
  request.set_reason(absl::GetFlag(FLAGS_reason));
  cohort::v1::RollbackResponse response;
  COHORT_RETURN_IF_ERROR(FromGrpc((stub.*rpc)(&context, request, &response)));
  return FormatRelease(action, request.to_version(), response, json);
}

absl::StatusOr<std::string> CallRollback(Admin::Stub& stub,
                                         grpc::ClientContext& context,
                                         bool json) {
  return CallRelease(&Admin::Stub::Rollback, "rolled back to", stub, context,
                     json);
}

absl::StatusOr<std::string> CallPromote(Admin::Stub& stub,
                                        grpc::ClientContext& context,
                                        bool json) {
  return CallRelease(&Admin::Stub::Promote, "promoted", stub, context, json);
}

absl::StatusOr<std::string> CallPin(Admin::Stub& stub,
                                    grpc::ClientContext& context, bool json) {
  return CallRelease(&Admin::Stub::Pin, "pinned", stub, context, json);
}

// Pause and Resume share their request and answer.
using PauseRpc = grpc::Status (Admin::Stub::*)(
    grpc::ClientContext*, const cohort::v1::PauseRequest&,
    cohort::v1::StatusResponse*);

absl::StatusOr<std::string> CallSetPaused(PauseRpc rpc, Admin::Stub& stub,
                                          grpc::ClientContext& context,
                                          bool json) {
  cohort::v1::PauseRequest request;
  request.set_task(absl::GetFlag(FLAGS_task));
  request.set_reason(absl::GetFlag(FLAGS_reason));
  cohort::v1::StatusResponse response;
  COHORT_RETURN_IF_ERROR(FromGrpc((stub.*rpc)(&context, request, &response)));
  return FormatStatus(response, json);
}

absl::StatusOr<std::string> CallPause(Admin::Stub& stub,
                                      grpc::ClientContext& context, bool json) {
  return CallSetPaused(&Admin::Stub::Pause, stub, context, json);
}

absl::StatusOr<std::string> CallResume(Admin::Stub& stub,
                                       grpc::ClientContext& context,
                                       bool json) {
  return CallSetPaused(&Admin::Stub::Resume, stub, context, json);
}

template <CallFn kCall>
absl::StatusOr<std::string> OnAdmin(
    const std::shared_ptr<grpc::Channel>& channel,
    grpc::ClientContext& context, bool json) {
  std::unique_ptr<Admin::Stub> stub = Admin::NewStub(channel);
  return kCall(*stub, context, json);
}

// grpc.health.v1 Check on --admin_address (either port): the status, and an
// UNAVAILABLE error unless it is SERVING, so the exit code says it.
absl::StatusOr<std::string> CallHealth(
    const std::shared_ptr<grpc::Channel>& channel,
    grpc::ClientContext& context, bool json) {
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(absl::GetFlag(FLAGS_service));
  grpc::health::v1::HealthCheckResponse response;
  COHORT_RETURN_IF_ERROR(FromGrpc(stub->Check(&context, request, &response)));
  const std::string status =
      grpc::health::v1::HealthCheckResponse::ServingStatus_Name(
          response.status());
  if (response.status() != grpc::health::v1::HealthCheckResponse::SERVING) {
    return absl::UnavailableError(status);
  }
  return json ? absl::StrCat("{\"status\":\"", status, "\"}\n")
              : absl::StrCat(status, "\n");
}

// CreateEnrollmentToken: the token on stdout (or in --token_out, mode
// 0600, with only the expiry printed).
absl::StatusOr<std::string> CallEnrollToken(Admin::Stub& stub,
                                            grpc::ClientContext& context,
                                            bool json) {
  cohort::v1::CreateEnrollmentTokenRequest request;
  request.set_device_id(absl::GetFlag(FLAGS_device_id));
  request.set_ttl_hours(absl::GetFlag(FLAGS_ttl_hours));
  cohort::v1::EnrollmentToken response;
  COHORT_RETURN_IF_ERROR(FromGrpc(
      stub.CreateEnrollmentToken(&context, request, &response)));
  const std::string out = absl::GetFlag(FLAGS_token_out);
  if (!out.empty()) {
    COHORT_RETURN_IF_ERROR(
        base::WriteFileAtomically(out, response.token() + "\n", 0600));
  }
  const std::string shown = out.empty() ? response.token() : "";
  const std::string expires =
      absl::FormatTime(absl::FromUnixMillis(response.expires_at_unix_ms()));
  if (json) {
    return absl::StrCat("{\"device_id\":\"", response.device_id(),
                        "\",\"token\":\"", shown, "\",\"expires\":\"",
                        expires, "\"}\n");
  }
  return out.empty()
             ? absl::StrCat(response.token(), "\n")
             : absl::StrCat("token for ", response.device_id(), " written to ",
                            out, "; it expires ", expires, "\n");
}

absl::StatusOr<std::string> CallManifest(Admin::Stub& stub,
                                         grpc::ClientContext& context,
                                         bool json) {
  const std::string out = absl::GetFlag(FLAGS_manifest_out);
  if (out.empty()) {
    return absl::InvalidArgumentError("manifest needs --manifest_out=FILE");
  }
  cohort::v1::GetManifestRequest request;
  request.set_task(absl::GetFlag(FLAGS_task));
  request.set_release(absl::GetFlag(FLAGS_release));
  cohort::v1::SignedManifest response;
  COHORT_RETURN_IF_ERROR(
      FromGrpc(stub.GetManifest(&context, request, &response)));
  cohort::v1::ModelManifest content;
  if (!content.ParseFromString(response.manifest())) {
    return absl::DataLossError("the coordinator sent a manifest that does not parse");
  }
  COHORT_RETURN_IF_ERROR(
      base::WriteFileAtomically(out, response.SerializeAsString()));
  if (json) {
    return absl::StrCat("{\"release\":", content.release(),
                        ",\"version\":", content.version(), ",\"file\":\"",
                        out, "\"}\n");
  }
  return absl::StrCat("release ", content.release(), " (version ",
                      content.version(), ") manifest written to ", out, "\n");
}

constexpr AdminCommand kCommands[] = {
    {"versions", true, false, &OnAdmin<&CallVersions>},
    {"releases", true, false, &OnAdmin<&CallReleases>},
    {"status", true, false, &OnAdmin<&CallStatus>},
    {"tasks", false, false, &OnAdmin<&CallTasks>},
    {"devices", true, false, &OnAdmin<&CallDevices>},
    {"rollback", true, true, &OnAdmin<&CallRollback>},
    {"promote", true, true, &OnAdmin<&CallPromote>},
    {"pin", true, true, &OnAdmin<&CallPin>},
    {"pause", true, false, &OnAdmin<&CallPause>},
    {"resume", true, false, &OnAdmin<&CallResume>},
    {"health", false, false, &CallHealth},
    {"enroll-token", false, false, &OnAdmin<&CallEnrollToken>},
    {"manifest", true, false, &OnAdmin<&CallManifest>},
};

// The command named `name`; nullptr for none.
const AdminCommand* FindCommand(const std::string& name) {
  for (const AdminCommand& command : kCommands) {
    if (name == command.name) return &command;
  }
  return nullptr;
}

int Usage(const std::string& why) {
  std::fprintf(stderr, "cohortctl: %s\n%s", why.c_str(), kAdminUsage);
  return 2;
}

// What is wrong with the flags for `command`, or "" when nothing is.
std::string FlagProblem(const AdminCommand& command) {
  std::vector<std::pair<const char*, std::string>> required = {
      {"--admin_address", absl::GetFlag(FLAGS_admin_address)},
      {"--ca_cert", absl::GetFlag(FLAGS_ca_cert)},
      {"--cert", absl::GetFlag(FLAGS_cert)},
      {"--key", absl::GetFlag(FLAGS_key)},
  };
  if (command.needs_task) {
    required.emplace_back("--task", absl::GetFlag(FLAGS_task));
  }
  for (const auto& [name, value] : required) {
    if (value.empty()) return absl::StrCat(command.name, " needs ", name);
  }
  if (std::string(command.name) == "enroll-token" &&
      absl::GetFlag(FLAGS_device_id).empty()) {
    return "enroll-token needs --device_id";
  }
  if (absl::GetFlag(FLAGS_limit) < 0) {
    return "--limit must be >= 0 (0: the coordinator's default, 1000)";
  }
  if (!command.releases) return "";
  if (absl::GetFlag(FLAGS_to_version) < 1) {
    return absl::StrCat(command.name,
                        " needs --to_version >= 1 (see `cohortctl versions`)");
  }
  if (absl::GetFlag(FLAGS_reason).empty()) {
    return absl::StrCat(command.name,
                        " needs --reason: it is recorded in the release log");
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

// Makes `command`'s call on a new channel and prints the answer (stdout) or
// the error (stderr); returns the exit code.
int Run(const AdminCommand& command, bool json) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = OperatorChannel();
  if (!channel.ok()) {
    std::fprintf(stderr, "cohortctl: %s\n",
                 channel.status().ToString().c_str());
    return 2;
  }
  grpc::ClientContext context;
  const absl::Duration timeout =
      command.releases ? kReleaseDeadline : kReadDeadline;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  absl::StatusOr<std::string> text = command.call(*channel, context, json);
  if (!text.ok()) {
    std::fprintf(stderr, "cohortctl: %s %s: %s\n", command.name,
                 absl::GetFlag(FLAGS_admin_address).c_str(),
                 text.status().ToString().c_str());
    return 1;
  }
  std::fputs(text->c_str(), stdout);
  return 0;
}

}  // namespace

const char* AdminUsage() { return kAdminUsage; }

bool IsAdminCommand(const std::string& command) {
  return FindCommand(command) != nullptr;
}

int RunAdminCommand(const std::string& command, bool json) {
  const AdminCommand* found = FindCommand(command);
  if (found == nullptr) return Usage("unknown admin command");
  const std::string problem = FlagProblem(*found);
  if (!problem.empty()) return Usage(problem);
  return Run(*found, json);
}

}  // namespace cohort::tools
