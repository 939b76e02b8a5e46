// lrmemctl against a real server: every subcommand, --json output, and a
// one-line error with a non-zero exit code on failure.

#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/server_test_util.h"

namespace lrmem::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

struct CtlRun {
  int exit_code = -1;
  std::string out;
  std::string err;
};

class LrmemctlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<LrmemServer>> server =
        LrmemServer::Start(TestServerOptions(dir_.path() + "/data"));
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  // Runs lrmemctl with `args` (already shell-quoted where needed).
  CtlRun Ctl(const std::string& args) {
    const std::string err_path = dir_.path() + "/stderr";
    const std::string command =
        std::string(LRMEMCTL_BINARY) +
        " --server=127.0.0.1:" + std::to_string(server_->port()) + " " + args +
        " 2>" + err_path;
    CtlRun run;
    FILE* pipe = popen(command.c_str(), "r");
    char buffer[4096];
    size_t n = 0;
    while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) {
      run.out.append(buffer, n);
    }
    const int status = pclose(pipe);
    run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    std::ifstream err(err_path);
    std::stringstream contents;
    contents << err.rdbuf();
    run.err = contents.str();
    return run;
  }

  TempDir dir_;
  std::unique_ptr<LrmemServer> server_;
};

TEST_F(LrmemctlTest, CreateShowListDelete) {
  CtlRun created =
      Ctl("create run --num_local_models=5 --center_layout=even "
          "--initial_learning_rate=0.02");
  ASSERT_EQ(created.exit_code, 0) << created.err;
  EXPECT_THAT(created.out, HasSubstr("run"));

  CtlRun shown = Ctl("--json show run");
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  nlohmann::json info = nlohmann::json::parse(shown.out);
  EXPECT_EQ(info["name"], "run");
  EXPECT_EQ(info["config"]["num_local_models"], 5);
  EXPECT_EQ(info["config"]["center_layout"], "CENTER_LAYOUT_EVEN");
  EXPECT_EQ(info["centers"].size(), 5u);

  CtlRun listed = Ctl("--json list");
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_EQ(nlohmann::json::parse(listed.out).size(), 1u);

  EXPECT_EQ(Ctl("delete run").exit_code, 0);
  CtlRun missing = Ctl("show run");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.err, StartsWith("lrmemctl: NOT_FOUND: "));
  EXPECT_EQ(std::count(missing.err.begin(), missing.err.end(), '\n'), 1);
}

TEST_F(LrmemctlTest, ShowPrintsEachGroupsCurve) {
  ASSERT_EQ(Ctl("create m --num_local_models=3 --center_layout=even").exit_code,
            0);
  // One step so that the memory has a group.
  auto stub = Connect(server_->port());
  TrainStream stream(stub.get());
  stream.Open(
      OpenRequest("m", "a", {{"layer1", 2}}, v1::SESSION_MODE_STATISTICS));
  ASSERT_FALSE(
      stream.Step(StepRequest(1, v1::SESSION_MODE_STATISTICS, {{"layer1", {}}}))
          .has_error());

  CtlRun shown = Ctl("--json show m");
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  nlohmann::json info = nlohmann::json::parse(shown.out);
  ASSERT_EQ(info["groups"].size(), 1u);
  const nlohmann::json& curve = info["groups"][0]["curve"];
  ASSERT_EQ(curve.size(), 3u);
  EXPECT_EQ(curve[0]["center"], -2.0);
  EXPECT_EQ(curve[1]["center"], 0.0);
  EXPECT_FLOAT_EQ(curve[2]["value"].get<float>(), 0.001f);

  CtlRun text = Ctl("show m");
  EXPECT_THAT(text.out, HasSubstr("group layer1"));
  EXPECT_THAT(text.out, HasSubstr("->"));
}

TEST_F(LrmemctlTest, SnapshotRestoreCopyExportImport) {
  ASSERT_EQ(Ctl("create m").exit_code, 0);
  EXPECT_EQ(Ctl("snapshot m s").exit_code, 0);
  CtlRun snapshots = Ctl("--json snapshots --memory=m");
  ASSERT_EQ(snapshots.exit_code, 0) << snapshots.err;
  EXPECT_EQ(nlohmann::json::parse(snapshots.out)[0]["name"], "s");
  EXPECT_EQ(Ctl("restore s r --reset_optimizer").exit_code, 0);
  EXPECT_EQ(Ctl("restore s r").exit_code, 1);
  EXPECT_EQ(Ctl("restore s r --overwrite").exit_code, 0);
  EXPECT_EQ(Ctl("copy m c").exit_code, 0);
  const std::string file = dir_.path() + "/m.lrmem";
  EXPECT_EQ(Ctl("export m " + file).exit_code, 0);
  EXPECT_EQ(Ctl("export s " + file + ".snap --from_snapshot").exit_code, 0);
  EXPECT_EQ(Ctl("import " + file + " imported").exit_code, 0);
  EXPECT_EQ(Ctl("import " + file + ".snap imported2").exit_code, 0);
  CtlRun listed = Ctl("--json list");
  EXPECT_EQ(nlohmann::json::parse(listed.out).size(), 5u);
  EXPECT_EQ(Ctl("import /nonexistent/file x").exit_code, 3);
}

TEST_F(LrmemctlTest, HealthAndUsageErrors) {
  CtlRun health = Ctl("health");
  EXPECT_EQ(health.exit_code, 0) << health.err;
  EXPECT_EQ(health.out, "SERVING\n");
  CtlRun bad = Ctl("frobnicate");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err, HasSubstr("unknown command"));
  EXPECT_EQ(Ctl("create").exit_code, 2);
  CtlRun invalid = Ctl("create ''");
  EXPECT_EQ(invalid.exit_code, 1);
  EXPECT_THAT(invalid.err, HasSubstr("INVALID_ARGUMENT"));
  // Config values that no 32-bit float holds are usage errors; a tiny but
  // representable one reaches the server.
  for (const char* flag : {"--clip=1e39", "--clip=-1e39", "--lr_min=1e-50"}) {
    CtlRun huge = Ctl(absl::StrCat("create x ", flag));
    EXPECT_EQ(huge.exit_code, 2) << flag << ": " << huge.err;
    EXPECT_THAT(huge.err, HasSubstr("32-bit float"));
  }
  CtlRun tiny = Ctl("create x --lr_min=1e-45 --initial_learning_rate=1e-3");
  EXPECT_EQ(tiny.exit_code, 0) << tiny.err;
  // A directory is a local file error.
  CtlRun directory = Ctl("import / y");
  EXPECT_EQ(directory.exit_code, 3) << directory.err;
  EXPECT_THAT(directory.err, HasSubstr("not a regular file"));
}

}  // namespace
}  // namespace lrmem::testing
