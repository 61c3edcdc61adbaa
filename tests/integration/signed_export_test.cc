// A release's ONNX export is covered by its signature: the coordinator lists
// the export's SHA-256 in each signed manifest, and `cohortctl model export
// --manifest --root` rebuilds the file from the release's weights and writes
// it only when it matches. Weights of another release, a tampered manifest
// and a root the release does not chain to are refused.

#include <string>

#include "absl/strings/str_cat.h"
#include "common/base/files.h"
#include "gmock/gmock.h"
#include "tests/integration/admin_fixture.h"

namespace cohort::testing {
namespace {

using ::testing::HasSubstr;

class SignedExportTest : public AdminTest {
 protected:
  // `cohortctl model export` of the initial release; its exit code.
  int Export(const std::string& weights, const std::string& manifest,
             const std::string& root, std::string* log) {
    Subprocess ctl({BinaryPath("cohortctl"), "model", "export", "--format=onnx",
                    "--weights=" + weights, "--manifest=" + manifest,
                    "--root=" + root, "--out=" + dir_ + "/model.onnx"},
                   absl::StrCat(dir_, "/export-", ++exports_, ".log"));
    const std::optional<int> code = ctl.Wait(absl::Minutes(2));
    *log = ctl.Log();
    return code.value_or(-1);
  }

  int exports_ = 0;
};

TEST_F(SignedExportTest, OnnxExportMatchesTheDigestTheReleaseSigned) {
  ServerOptions o = DirectoryServer();
  o.max_rounds = 1000;  // no devices: the initial release is all it makes
  o.extra = absl::StrCat(SigningConfig(), "\n", AdminConfig());
  auto server = StartServer(o, "server");
  ASSERT_GT(WaitForPort(*server, "server"), 0) << server->Log();
  const int admin_port = AdminPort();
  ASSERT_GT(admin_port, 0) << server->Log();

  std::string log;
  const std::string manifest = dir_ + "/release.pb";
  ASSERT_EQ(Cohortctl({"manifest", "--task=" + o.task,
                       "--manifest_out=" + manifest},
                      admin_port, "operator", &log),
            0)
      << log << server->Log();
  EXPECT_THAT(log, HasSubstr("release 1 (version 1)"));

  const std::string weights =
      absl::StrCat(dir_, "/state/tasks/", o.task, "/versions/1.weights");
  const std::string root = dir_ + "/root-1.pb";
  ASSERT_EQ(Export(weights, manifest, root, &log), 0) << log;
  EXPECT_THAT(log, HasSubstr("matches the ONNX digest signed in release 1"));
  auto written = base::ReadFile(dir_ + "/model.onnx");
  ASSERT_TRUE(written.ok());
  EXPECT_GT(written->size(), 10000u);  // small_cnn's weights and graph

  // Weights that are not the release's.
  auto bytes = base::ReadFile(weights);
  ASSERT_TRUE(bytes.ok());
  std::string changed = *bytes;
  changed[changed.size() / 2] ^= 1;
  Write(dir_ + "/other.weights", changed);
  EXPECT_EQ(Export(dir_ + "/other.weights", manifest, root, &log), 1);
  EXPECT_THAT(log, HasSubstr("not an artifact of release 1"));

  // A manifest changed after signing.
  auto signed_bytes = base::ReadFile(manifest);
  ASSERT_TRUE(signed_bytes.ok());
  cohort::v1::SignedManifest tampered;
  ASSERT_TRUE(tampered.ParseFromString(*signed_bytes));
  std::string content = tampered.manifest();
  content[content.size() / 2] ^= 1;
  tampered.set_manifest(content);
  Write(dir_ + "/tampered.pb", tampered.SerializeAsString());
  EXPECT_EQ(Export(weights, dir_ + "/tampered.pb", root, &log), 1);
  EXPECT_THAT(log, HasSubstr("UNAUTHENTICATED"));

  // A root that never certified the release key.
  TestKeys stranger;
  stranger.roots = {TestKey(7), TestKey(8), TestKey(9)};
  Write(dir_ + "/other-root.pb", stranger.Root().SerializeAsString());
  EXPECT_EQ(Export(weights, manifest, dir_ + "/other-root.pb", &log), 1);
}

}  // namespace
}  // namespace cohort::testing
