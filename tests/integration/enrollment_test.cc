// Enrollment end to end: an operator makes a token with cohortctl, a
// device that holds only the token enrolls with a real coordinator, trains
// in its rounds over mTLS with the certificate it got, and renews it;
// reused and unknown tokens are refused.

#include <sys/stat.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "cohort/v1/coordinator.grpc.pb.h"
#include "common/base/files.h"
#include "client/transport/grpc_transport.h"
#include "common/crypto/x509.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "tests/integration/admin_fixture.h"

namespace cohort::testing {
namespace {

using ::testing::HasSubstr;

class EnrollmentTest : public AdminTest {
 protected:
  ServerOptions EnrollingServer(int max_rounds) const {
    ServerOptions o = DirectoryServer();
    o.task = "enroll";
    o.goal = 1;
    o.max_rounds = max_rounds;
    o.extra = absl::StrCat(
        AdminConfig(), "\nenrollment { listen_address: \"127.0.0.1:0\" ",
        "port_file: \"", dir_, "/enroll.port\" ca_key_path: \"", pki_dir_,
        "/ca.key\" certificate_validity_days: 1 }");
    return o;
  }

  // A device with no certificate: the CA to trust, the enrollment port and
  // its token. `renew_before_hours` 24 makes a one-day certificate due for
  // renewal at once.
  AgentOverrides Enrolling(int enroll_port, const std::string& token_path,
                           int renew_before_hours) const {
    AgentOverrides o;
    o.tls = absl::StrCat("ca_cert_path: \"", pki_dir_, "/ca.crt\"");
    o.extra = absl::StrCat(
        "enrollment { server_address: \"127.0.0.1:", enroll_port,
        "\" token_path: \"", token_path,
        "\" renew_before_hours: ", renew_before_hours, " }");
    return o;
  }

  std::string MakeToken(int admin_port, const std::string& device,
                        const std::string& path) {
    std::string log;
    EXPECT_EQ(Cohortctl({"enroll-token", "--device_id=" + device,
                         "--ttl_hours=1", "--token_out=" + path},
                        admin_port, "operator", &log),
              0)
        << log;
    EXPECT_THAT(log, HasSubstr("token for " + device + " written to"));
    return base::ReadFile(path, 4096).value_or("");
  }

  // The Enrollment service over server-authenticated TLS, as a device
  // without a certificate reaches it.
  std::unique_ptr<cohort::v1::Enrollment::Stub> EnrollStub(int port) const {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = base::ReadFile(pki_dir_ + "/ca.crt").value_or("");
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride("localhost");
    return cohort::v1::Enrollment::NewStub(grpc::CreateCustomChannel(
        absl::StrCat("127.0.0.1:", port), grpc::SslCredentials(ssl), args));
  }

  static grpc::Status Enroll(cohort::v1::Enrollment::Stub& stub,
                             const std::string& token,
                             const std::string& device) {
    const std::string key = crypto::GenerateDeviceKeyPem().value_or("");
    cohort::v1::EnrollRequest request;
    request.set_token(std::string(absl::StripAsciiWhitespace(token)));
    request.set_csr_pem(crypto::MakeCsrPem(key, device).value_or(""));
    cohort::v1::DeviceCertificate answer;
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
    return stub.Enroll(&context, request, &answer);
  }
};

TEST_F(EnrollmentTest, ATokenEnrollsADeviceThatThenTrainsAndRenews) {
  auto server = StartServer(EnrollingServer(/*max_rounds=*/2), "server");
  const int port = WaitForPort(*server, "server");
  ASSERT_GT(port, 0) << server->Log();
  const int admin_port = AdminPort();
  const int enroll_port = PortInFile(dir_ + "/enroll.port");
  ASSERT_GT(admin_port, 0) << server->Log();
  ASSERT_GT(enroll_port, 0) << server->Log();

  const std::string token_path = dir_ + "/device-5.token";
  const std::string token = MakeToken(admin_port, "device-5", token_path);
  struct stat st;
  ASSERT_EQ(stat(token_path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  auto agent =
      StartAgent(5, port, "enroll", Enrolling(enroll_port, token_path, 24));
  const std::optional<int> code = server->Wait(absl::Minutes(3));
  ASSERT_TRUE(code.has_value()) << "server did not finish:\n"
                                << server->Log() << "\nagent:\n"
                                << agent->Log();
  EXPECT_EQ(*code, 0) << server->Log();
  agent->Signal(SIGTERM);
  ASSERT_TRUE(agent->Wait(absl::Seconds(30)).has_value()) << agent->Log();

  EXPECT_THAT(server->Log(), HasSubstr("enrolled device device-5"));
  EXPECT_THAT(agent->Log(), HasSubstr("enrolled as device-5"));
  // Due at once (one-day certificate, renew 24 h before expiry): renewed
  // through the device port, once (at most once an hour), and the rounds
  // went on with the new one.
  EXPECT_THAT(server->Log(), HasSubstr("renewed the certificate of device "
                                       "device-5"));
  EXPECT_THAT(agent->Log(), HasSubstr("renewed the device certificate"));
  // Its key and certificate stayed on the device, the key owner-only.
  const std::string state = dir_ + "/device-5-state";
  ASSERT_EQ(stat((state + "/identity.pem").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(stat((state + "/device.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  absl::StatusOr<std::string> cert = base::ReadFile(state + "/device.crt");
  ASSERT_TRUE(cert.ok()) << cert.status();
  absl::StatusOr<crypto::CertificateInfo> info =
      crypto::ReadCertificatePem(*cert);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->common_name, "device-5");
  EXPECT_TRUE(crypto::VerifyIssuedBy(
                  *cert, base::ReadFile(pki_dir_ + "/ca.crt").value_or(""),
                  absl::Now())
                  .ok());
  EXPECT_EQ(info->not_after - info->not_before, absl::Hours(24));
  // Renewed once; device.crt is the certificate identity.pem holds.
  const std::string log = server->Log();
  EXPECT_EQ(log.find("renewed the certificate of device device-5"),
            log.rfind("renewed the certificate of device device-5"));
  absl::StatusOr<std::string> identity = base::ReadFile(state + "/identity.pem");
  ASSERT_TRUE(identity.ok());
  EXPECT_NE(identity->find(*cert), std::string::npos);
}

TEST_F(EnrollmentTest, ReusedUnknownAndMisdirectedTokensAreRefused) {
  auto server = StartServer(EnrollingServer(/*max_rounds=*/50), "server");
  const int port = WaitForPort(*server, "server");
  ASSERT_GT(port, 0) << server->Log();
  const int enroll_port = PortInFile(dir_ + "/enroll.port");
  ASSERT_GT(enroll_port, 0) << server->Log();
  const std::string token =
      MakeToken(AdminPort(), "device-7", dir_ + "/device-7.token");
  auto stub = EnrollStub(enroll_port);

  // Another device's CSR with this token: refused, and the token kept.
  grpc::Status misdirected = Enroll(*stub, token, "device-8");
  EXPECT_EQ(misdirected.error_code(), grpc::StatusCode::PERMISSION_DENIED)
      << misdirected.error_message();
  EXPECT_TRUE(Enroll(*stub, token, "device-7").ok());
  grpc::Status reused = Enroll(*stub, token, "device-7");
  EXPECT_EQ(reused.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(reused.error_message(), HasSubstr("already used"));
  grpc::Status unknown = Enroll(*stub, std::string(64, 'a'), "device-7");
  EXPECT_EQ(unknown.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(unknown.error_message(), HasSubstr("unknown"));
  grpc::Status garbage = Enroll(*stub, "not a token", "device-7");
  EXPECT_EQ(garbage.error_code(), grpc::StatusCode::UNAUTHENTICATED);

  // Renewal on the device port: only for the caller's own name, and never
  // for an operator's (the same CA signs operators).
  auto renew = [&](const std::string& cert, const std::string& csr_name) {
    cohort::v1::TlsConfig tls;
    tls.set_ca_cert_path(pki_dir_ + "/ca.crt");
    tls.set_cert_path(pki_dir_ + "/" + cert + ".crt");
    tls.set_key_path(pki_dir_ + "/" + cert + ".key");
    auto channel = client::MakeTlsChannel(absl::StrCat("127.0.0.1:", port),
                                          tls, "localhost");
    EXPECT_TRUE(channel.ok()) << channel.status();
    auto device_port = cohort::v1::Coordinator::NewStub(*channel);
    cohort::v1::RenewCertificateRequest request;
    request.set_csr_pem(crypto::MakeCsrPem(
                            crypto::GenerateDeviceKeyPem().value_or(""),
                            csr_name)
                            .value_or(""));
    cohort::v1::DeviceCertificate answer;
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
    return device_port->RenewCertificate(&context, request, &answer);
  };
  EXPECT_TRUE(renew("device-0", "device-0").ok());
  EXPECT_EQ(renew("device-0", "device-1").error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  grpc::Status operator_renewal = renew("operator", "operator");
  EXPECT_EQ(operator_renewal.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(operator_renewal.error_message(), HasSubstr("operator's name"));
  // Nor is a token made for an operator's name.
  std::string log;
  EXPECT_EQ(Cohortctl({"enroll-token", "--device_id=operator"}, AdminPort(),
                      "operator", &log),
            1)
      << log;
  EXPECT_THAT(log, HasSubstr("operator's name"));

  // An agent whose token was used up cannot enroll and says why: exit 3.
  auto agent = StartAgent(7, port, "enroll",
                          Enrolling(enroll_port, dir_ + "/device-7.token", 0));
  const std::optional<int> agent_code = agent->Wait(absl::Seconds(60));
  ASSERT_TRUE(agent_code.has_value()) << agent->Log();
  EXPECT_EQ(*agent_code, 3) << agent->Log();
  EXPECT_THAT(agent->Log(), HasSubstr("already used"));
  server->Signal(SIGTERM);
  ASSERT_TRUE(server->Wait(absl::Seconds(30)).has_value());
}

}  // namespace
}  // namespace cohort::testing
