// The deployment recipes (Dockerfile, deploy/Dockerfile.mnist, the compose
// file, the Kubernetes manifests and the systemd unit) agree with each other
// and with the real binaries. No container engine runs in CI, so this is
// what can be checked without one:
//
//   * every YAML file under deploy/ parses;
//   * every flag they pass is one that `lrmem-server --help` (or lrmemctl's,
//     or lrmem-mnist's) lists, so a renamed flag cannot drift silently;
//   * the gRPC and metrics ports, the data directory and the stop signal
//     are the same everywhere, and every stop timeout outlasts the server's
//     own shutdown grace period;
//   * the image's build stage runs scripts/install-deps.sh, and its runtime
//     stage installs a package for every shared library `ldd` shows;
//   * the image's entrypoint flags start a real server that its
//     HEALTHCHECK command reports healthy and that drains on its
//     STOPSIGNAL with exit code 0.
//
// The paths of the source tree and of the binaries come from CMake.

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "tests/deploy_files.h"
#include "tests/deploy_subprocess.h"
#include "yaml-cpp/yaml.h"

namespace lrmem::deploy {
namespace {

namespace fs = std::filesystem;

// The ports every recipe must use: gRPC (training, admin, health) and
// Prometheus metrics over HTTP.
constexpr int kGrpcPort = 50051;
constexpr int kMetricsPort = 9464;

// A program started with some words, and where that command line came from
// (for messages).
struct Invocation {
  std::string origin;
  std::vector<std::string> words;

  std::string Program() const {
    return words.empty() ? "" : fs::path(words[0]).filename().string();
  }
  std::vector<CommandFlag> Flags() const { return FlagsOf(words); }
  std::optional<std::string> Value(absl::string_view flag) const {
    return LastValue(Flags(), flag);
  }
};

// The flags of `invocation` that `known` (a --help listing) lacks, one
// message each.
std::vector<std::string> UnknownFlags(const Invocation& invocation,
                                      const std::set<std::string>& known) {
  std::vector<std::string> problems;
  for (const CommandFlag& flag : invocation.Flags()) {
    if (known.count(flag.name) == 0) {
      problems.push_back(absl::StrCat(invocation.origin, ": --", flag.name,
                                      " is not a flag of ",
                                      invocation.Program()));
    }
  }
  return problems;
}

// A scalar or a sequence of scalars (compose accepts both for command,
// entrypoint and healthcheck.test), as words.
std::vector<std::string> Words(const YAML::Node& node) {
  std::vector<std::string> words;
  if (node.IsScalar()) return SplitCommandLine(node.as<std::string>());
  if (node.IsSequence()) {
    for (const YAML::Node& word : node) words.push_back(word.as<std::string>());
  }
  return words;
}

std::vector<std::string> Concat(std::vector<std::string> a,
                                const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::string Joined(const std::vector<std::string>& problems) {
  return absl::StrJoin(problems, "\n");
}

// Everything the tests read, loaded once.
class DeployTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const fs::path root = LRMEM_SOURCE_DIR;
    dockerfile_ = ParseDockerfile(ReadFile(root / "Dockerfile").value_or(""));
    mnist_dockerfile_ = ParseDockerfile(
        ReadFile(root / "deploy/Dockerfile.mnist").value_or(""));
    compose_ = YAML::LoadFile(root / "deploy/docker-compose.yml");
    for (const auto& entry : fs::directory_iterator(root / "deploy/k8s")) {
      if (entry.path().extension() != ".yaml") continue;
      for (const YAML::Node& doc : YAML::LoadAllFromFile(entry.path())) {
        if (doc["kind"]) k8s_[doc["kind"].as<std::string>()].push_back(doc);
      }
    }
    unit_ = ParseUnitFile(
        ReadFile(root / "deploy/systemd/lrmem-server.service").value_or(""));

    server_help_ = Help(LRMEM_SERVER_BINARY);
    lrmemctl_help_ = Help(LRMEMCTL_BINARY);
    if (!std::string(LRMEM_MNIST_BINARY).empty()) {
      mnist_help_ = Help(LRMEM_MNIST_BINARY);
    }
  }

  static std::string Help(const std::string& binary) {
    // gflags exits non-zero after --help; the text is what counts.
    return RunCommand({binary, "--help"}).output;
  }

  // --- what the Dockerfile says ---

  static const DockerStage& Runtime(const std::vector<DockerStage>& stages) {
    return stages.back();
  }
  static std::vector<std::string> ExecForm(const DockerStage& stage,
                                           absl::string_view keyword) {
    std::vector<std::string> all = stage.All(keyword);
    if (all.empty()) return {};
    return ParseJsonStringArray(all.back())
        .value_or(
            std::vector<std::string>{"<not exec form: " + all.back() + ">"});
  }
  static std::vector<std::string> Entrypoint(
      const std::vector<DockerStage>& stages) {
    return Concat(ExecForm(Runtime(stages), "ENTRYPOINT"),
                  ExecForm(Runtime(stages), "CMD"));
  }
  // The HEALTHCHECK's command, options (--interval=...) and CMD removed.
  static std::vector<std::string> HealthcheckCommand() {
    std::vector<std::string> all = Runtime(dockerfile_).All("HEALTHCHECK");
    if (all.empty()) return {};
    size_t cmd = all.back().find("CMD");
    if (cmd == std::string::npos) return {};
    return ParseJsonStringArray(all.back().substr(cmd + 3))
        .value_or(std::vector<std::string>{});
  }

  // --- what the compose file says ---

  static YAML::Node Service(const std::string& name) {
    return compose_["services"][name];
  }
  // Services built from (or running the image of) `dockerfile`.
  static std::vector<std::string> ServicesOf(const std::string& dockerfile) {
    std::vector<std::string> names;
    for (const auto& service : compose_["services"]) {
      const YAML::Node build = service.second["build"];
      if (build && build["dockerfile"] &&
          build["dockerfile"].as<std::string>() == dockerfile) {
        names.push_back(service.first.as<std::string>());
      }
    }
    return names;
  }
  static Invocation ComposeInvocation(const std::string& name,
                                      const std::vector<DockerStage>& image) {
    const YAML::Node service = Service(name);
    std::vector<std::string> entrypoint =
        service["entrypoint"] ? Words(service["entrypoint"])
                              : ExecForm(Runtime(image), "ENTRYPOINT");
    std::vector<std::string> command = service["command"]
                                           ? Words(service["command"])
                                           : ExecForm(Runtime(image), "CMD");
    return {"docker-compose.yml service " + name, Concat(entrypoint, command)};
  }

  // --- what Kubernetes says ---

  static YAML::Node StatefulSet() { return k8s_["StatefulSet"].at(0); }
  static YAML::Node ServerContainer() {
    return StatefulSet()["spec"]["template"]["spec"]["containers"][0];
  }
  static Invocation K8sInvocation() {
    const YAML::Node container = ServerContainer();
    std::vector<std::string> command =
        container["command"] ? Words(container["command"])
                             : ExecForm(Runtime(dockerfile_), "ENTRYPOINT");
    return {"k8s StatefulSet container",
            Concat(command, Words(container["args"]))};
  }

  // --- what systemd says ---

  static Invocation SystemdInvocation() {
    std::string exec_start =
        UnitValue(unit_, "Service", "ExecStart").value_or("");
    // Prefixes such as "-" or "+" change how systemd runs the command.
    exec_start = std::string(absl::StripLeadingAsciiWhitespace(exec_start));
    while (!exec_start.empty() &&
           std::string("-+!@:").find(exec_start[0]) != std::string::npos) {
      exec_start.erase(0, 1);
    }
    std::vector<std::string> words;
    for (const std::string& word : SplitCommandLine(exec_start)) {
      if (!absl::StartsWith(word, "$")) words.push_back(word);
    }
    return {"systemd ExecStart", words};
  }

  // Every command line that starts lrmem-server.
  static std::vector<Invocation> ServerInvocations() {
    std::vector<Invocation> all = {
        {"Dockerfile ENTRYPOINT/CMD", Entrypoint(dockerfile_)}};
    for (const std::string& name : ServicesOf("Dockerfile")) {
      all.push_back(ComposeInvocation(name, dockerfile_));
    }
    all.push_back(K8sInvocation());
    all.push_back(SystemdInvocation());
    return all;
  }

  // The grace period a server started by `invocation` uses.
  static int64_t GracePeriodMs(const Invocation& invocation) {
    std::string value =
        invocation.Value("shutdown_grace_period_ms")
            .value_or(DefaultInHelp(server_help_, "shutdown_grace_period_ms")
                          .value_or("-1"));
    int64_t ms = -1;
    if (!absl::SimpleAtoi(value, &ms)) return -1;
    return ms;
  }

  static std::vector<DockerStage> dockerfile_;
  static std::vector<DockerStage> mnist_dockerfile_;
  static YAML::Node compose_;
  static std::map<std::string, std::vector<YAML::Node>> k8s_;
  static std::vector<UnitEntry> unit_;
  static std::string server_help_;
  static std::string lrmemctl_help_;
  static std::string mnist_help_;
};

std::vector<DockerStage> DeployTest::dockerfile_;
std::vector<DockerStage> DeployTest::mnist_dockerfile_;
YAML::Node DeployTest::compose_;
std::map<std::string, std::vector<YAML::Node>> DeployTest::k8s_;
std::vector<UnitEntry> DeployTest::unit_;
std::string DeployTest::server_help_;
std::string DeployTest::lrmemctl_help_;
std::string DeployTest::mnist_help_;

TEST(DeployYaml, EveryFileUnderDeployParses) {
  int files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(
           fs::path(LRMEM_SOURCE_DIR) / "deploy")) {
    const std::string extension = entry.path().extension().string();
    if (extension != ".yml" && extension != ".yaml") continue;
    ++files;
    SCOPED_TRACE(entry.path().string());
    std::vector<YAML::Node> docs;
    EXPECT_NO_THROW(docs = YAML::LoadAllFromFile(entry.path()));
    EXPECT_FALSE(docs.empty());
    for (const YAML::Node& doc : docs) EXPECT_TRUE(doc.IsMap());
  }
  // The compose file and at least the StatefulSet and the Services.
  EXPECT_GE(files, 3);
}

TEST_F(DeployTest, BinariesListTheirFlags) {
  // Guards every later check: an empty listing would fail them all for the
  // wrong reason.
  for (const auto& [name, help] : {std::pair{"lrmem-server", server_help_},
                                   std::pair{"lrmemctl", lrmemctl_help_}}) {
    SCOPED_TRACE(name);
    EXPECT_GT(FlagsListedInHelp(help).size(), 3u) << help;
  }
  EXPECT_TRUE(FlagsListedInHelp(server_help_).count("listen"));
  EXPECT_TRUE(FlagsListedInHelp(lrmemctl_help_).count("server"));
}

TEST_F(DeployTest, TheCheckRejectsAMisspelledFlag) {
  const std::set<std::string> known = FlagsListedInHelp(server_help_);
  std::vector<std::string> words = Entrypoint(dockerfile_);
  EXPECT_TRUE(UnknownFlags({"as written", words}, known).empty());
  words.push_back("--shutdown_grace_period=100");
  std::vector<std::string> problems =
      UnknownFlags({"with a misspelled flag", words}, known);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_TRUE(absl::StrContains(problems[0], "--shutdown_grace_period "));
}

TEST_F(DeployTest, EveryServerFlagIsOneTheServerHas) {
  const std::set<std::string> known = FlagsListedInHelp(server_help_);
  for (const Invocation& invocation : ServerInvocations()) {
    EXPECT_EQ(invocation.Program(), "lrmem-server") << invocation.origin;
    EXPECT_EQ(Joined(UnknownFlags(invocation, known)), "");
  }
}

TEST_F(DeployTest, HealthChecksAreLrmemctlHealthOnTheGrpcPort) {
  const std::set<std::string> known = FlagsListedInHelp(lrmemctl_help_);
  std::vector<Invocation> checks = {
      {"Dockerfile HEALTHCHECK", HealthcheckCommand()}};
  for (const std::string& name : ServicesOf("Dockerfile")) {
    std::vector<std::string> test = Words(Service(name)["healthcheck"]["test"]);
    if (!test.empty() && test[0] == "CMD") test.erase(test.begin());
    checks.push_back({"docker-compose.yml healthcheck of " + name, test});
  }
  const bool help_lists_health = absl::StrContains(lrmemctl_help_, "health");
  EXPECT_TRUE(help_lists_health) << lrmemctl_help_;

  for (const Invocation& check : checks) {
    SCOPED_TRACE(check.origin);
    ASSERT_GE(check.words.size(), 2u);
    EXPECT_EQ(check.Program(), "lrmemctl");
    EXPECT_EQ(check.words[1], "health");
    EXPECT_EQ(Joined(UnknownFlags(check, known)), "");
    EXPECT_EQ(PortOf(check.Value("server").value_or("")), kGrpcPort);
  }
}

TEST_F(DeployTest, TrainingJobFlagsAreOnesLrmemMnistHas) {
  if (mnist_help_.empty()) {
    GTEST_SKIP() << "lrmem-mnist is not built (LRMEM_WITH_TORCH=OFF)";
  }
  const std::set<std::string> known = FlagsListedInHelp(mnist_help_);
  const std::vector<std::string> servers = ServicesOf("Dockerfile");
  ASSERT_EQ(servers.size(), 1u);
  const std::vector<std::string> jobs = ServicesOf("deploy/Dockerfile.mnist");
  EXPECT_GE(jobs.size(), 2u);
  for (const std::string& name : jobs) {
    SCOPED_TRACE(name);
    const Invocation job = ComposeInvocation(name, mnist_dockerfile_);
    EXPECT_EQ(job.Program(), "lrmem-mnist");
    EXPECT_EQ(Joined(UnknownFlags(job, known)), "");
    // The server's service name and gRPC port, once it is healthy.
    EXPECT_EQ(job.Value("server"), absl::StrCat(servers[0], ":", kGrpcPort));
    const YAML::Node depends = Service(name)["depends_on"][servers[0]];
    ASSERT_TRUE(depends.IsMap());
    EXPECT_EQ(depends["condition"].as<std::string>(), "service_healthy");
  }
}

TEST_F(DeployTest, PortsAgreeEverywhere) {
  // What the server listens on, wherever it is started. systemd keeps both
  // on loopback; the containers listen on every interface.
  for (const Invocation& invocation : ServerInvocations()) {
    SCOPED_TRACE(invocation.origin);
    EXPECT_EQ(PortOf(invocation.Value("listen").value_or("")), kGrpcPort);
    EXPECT_EQ(PortOf(invocation.Value("metrics_listen").value_or("")),
              kMetricsPort);
  }
  // The server's own default, which lrmemctl and the README rely on.
  EXPECT_EQ(PortOf(DefaultInHelp(server_help_, "listen").value_or("")),
            kGrpcPort);

  // The Dockerfile.
  std::set<int> exposed;
  for (const std::string& expose : Runtime(dockerfile_).All("EXPOSE")) {
    for (const std::string& word : SplitCommandLine(expose)) {
      int port = 0;
      EXPECT_TRUE(absl::SimpleAtoi(word.substr(0, word.find('/')), &port))
          << word;
      exposed.insert(port);
    }
  }
  EXPECT_EQ(exposed, (std::set<int>{kGrpcPort, kMetricsPort}));

  // The compose file publishes exactly those container ports.
  for (const std::string& name : ServicesOf("Dockerfile")) {
    std::set<int> published;
    for (const YAML::Node& port : Service(name)["ports"]) {
      const std::string mapping = port.IsMap()
                                      ? port["target"].as<std::string>()
                                      : port.as<std::string>();
      published.insert(PortOf(":" + mapping).value_or(-1));
    }
    EXPECT_EQ(published, exposed) << "ports published by " << name;
  }

  // Kubernetes: container ports by name, probes, Services, scrape target.
  const YAML::Node container = ServerContainer();
  std::map<std::string, int> named;
  for (const YAML::Node& port : container["ports"]) {
    named[port["name"].as<std::string>()] = port["containerPort"].as<int>();
  }
  EXPECT_EQ(named, (std::map<std::string, int>{{"grpc", kGrpcPort},
                                               {"metrics", kMetricsPort}}));
  for (const char* probe :
       {"startupProbe", "livenessProbe", "readinessProbe"}) {
    SCOPED_TRACE(probe);
    ASSERT_TRUE(container[probe]["grpc"].IsMap());
    EXPECT_EQ(container[probe]["grpc"]["port"].as<int>(), kGrpcPort);
  }
  ASSERT_GE(k8s_["Service"].size(), 1u);
  for (const YAML::Node& service : k8s_["Service"]) {
    SCOPED_TRACE(service["metadata"]["name"].as<std::string>());
    std::set<int> targets;
    for (const YAML::Node& port : service["spec"]["ports"]) {
      const std::string target = port["targetPort"].as<std::string>();
      int number = 0;
      targets.insert(absl::SimpleAtoi(target, &number) ? number
                                                       : named[target]);
      EXPECT_EQ(port["port"].as<std::string>(), std::to_string(named[target]))
          << "Service port and container port differ";
    }
    EXPECT_EQ(targets, exposed);
  }
  const YAML::Node annotations =
      StatefulSet()["spec"]["template"]["metadata"]["annotations"];
  EXPECT_EQ(annotations["prometheus.io/scrape"].as<std::string>(), "true");
  EXPECT_EQ(annotations["prometheus.io/port"].as<std::string>(),
            std::to_string(kMetricsPort));
}

TEST_F(DeployTest, DataLivesOnTheVolumeEverywhere) {
  const Invocation docker = {"Dockerfile", Entrypoint(dockerfile_)};
  const std::string data_dir = docker.Value("data_dir").value_or("");
  ASSERT_FALSE(data_dir.empty());
  std::vector<std::string> volumes = Runtime(dockerfile_).All("VOLUME");
  ASSERT_EQ(volumes.size(), 1u);
  EXPECT_EQ(ParseJsonStringArray(volumes[0])
                .value_or(std::vector<std::string>{volumes[0]}),
            std::vector<std::string>{data_dir});

  // Compose: a named volume mounted at the data directory.
  for (const std::string& name : ServicesOf("Dockerfile")) {
    SCOPED_TRACE(name);
    EXPECT_EQ(ComposeInvocation(name, dockerfile_).Value("data_dir"), data_dir);
    bool mounted = false;
    for (const YAML::Node& volume : Service(name)["volumes"]) {
      std::vector<std::string> parts =
          absl::StrSplit(volume.as<std::string>(), ':');
      if (parts.size() >= 2 && parts[1] == data_dir) {
        mounted = true;
        EXPECT_TRUE(compose_["volumes"][parts[0]].IsDefined())
            << parts[0] << " is not a named volume";
      }
    }
    EXPECT_TRUE(mounted);
  }

  // Kubernetes: the claim template's volume is mounted there.
  EXPECT_EQ(K8sInvocation().Value("data_dir"), data_dir);
  const std::string claim =
      StatefulSet()["spec"]["volumeClaimTemplates"][0]["metadata"]["name"]
          .as<std::string>();
  bool mounted = false;
  for (const YAML::Node& mount : ServerContainer()["volumeMounts"]) {
    if (mount["name"].as<std::string>() == claim) {
      mounted = true;
      EXPECT_EQ(mount["mountPath"].as<std::string>(), data_dir);
    }
  }
  EXPECT_TRUE(mounted);

  // systemd: the StateDirectory ("%S" is /var/lib for a system unit).
  const std::string state = UnitValue(unit_, "Service", "StateDirectory")
                                .value_or("<no StateDirectory>");
  EXPECT_EQ(SystemdInvocation().Value("data_dir"), "%S/" + state);
}

TEST_F(DeployTest, EveryStopTimeoutOutlastsTheServerGracePeriod) {
  // Docker: the stop signal is the one the server drains on.
  EXPECT_EQ(Runtime(dockerfile_).All("STOPSIGNAL"),
            std::vector<std::string>{"SIGTERM"});

  for (const std::string& name : ServicesOf("Dockerfile")) {
    SCOPED_TRACE(name);
    const YAML::Node service = Service(name);
    if (service["stop_signal"]) {
      EXPECT_EQ(service["stop_signal"].as<std::string>(), "SIGTERM");
    }
    // Compose waits 10 s unless told otherwise.
    const int64_t stop_ms =
        service["stop_grace_period"]
            ? DurationMs(service["stop_grace_period"].as<std::string>(), 1000)
                  .value_or(-1)
            : 10000;
    EXPECT_GT(stop_ms, GracePeriodMs(ComposeInvocation(name, dockerfile_)))
        << "compose stop_grace_period against --shutdown_grace_period_ms";
  }

  const int64_t k8s_ms =
      StatefulSet()["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
          .as<int64_t>(30) *
      1000;
  EXPECT_GT(k8s_ms, GracePeriodMs(K8sInvocation()))
      << "k8s terminationGracePeriodSeconds against --shutdown_grace_period_ms";

  EXPECT_EQ(UnitValue(unit_, "Service", "KillSignal"), "SIGTERM");
  // systemd's default stop timeout is 90 s.
  const int64_t systemd_ms =
      DurationMs(UnitValue(unit_, "Service", "TimeoutStopSec").value_or("90"),
                 1000)
          .value_or(-1);
  EXPECT_GT(systemd_ms, GracePeriodMs(SystemdInvocation()))
      << "systemd TimeoutStopSec against --shutdown_grace_period_ms";

  // All of these are meaningful only if the grace period is known.
  for (const Invocation& invocation : ServerInvocations()) {
    EXPECT_GT(GracePeriodMs(invocation), 0) << invocation.origin;
  }
}

TEST_F(DeployTest, TheTerminationGraceCheckCanFail) {
  Invocation slow = K8sInvocation();
  slow.words.push_back("--shutdown_grace_period_ms=600000");
  const int64_t k8s_ms =
      StatefulSet()["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
          .as<int64_t>(30) *
      1000;
  EXPECT_LE(k8s_ms, GracePeriodMs(slow));
}

TEST_F(DeployTest, ImagesAreBuiltWithTheInstallScript) {
  const fs::path root = LRMEM_SOURCE_DIR;
  const std::string script =
      ReadFile(root / "scripts/install-deps.sh").value_or("");
  ASSERT_FALSE(script.empty());
  EXPECT_TRUE(absl::StrContains(script, "--server"));

  // The server image: the script's server-only mode, then the two targets.
  ASSERT_GE(dockerfile_.size(), 2u);
  const DockerStage& build = dockerfile_.front();
  EXPECT_EQ(build.base_image, "debian:12");
  const std::string runs = absl::StrJoin(build.All("RUN"), "\n");
  EXPECT_TRUE(absl::StrContains(runs, "scripts/install-deps.sh --server"))
      << runs;
  EXPECT_TRUE(absl::StrContains(runs, "--target lrmem-server lrmemctl"));
  EXPECT_EQ(Runtime(dockerfile_).base_image, "debian:12-slim");

  // The job image: the full script (libtorch).
  ASSERT_GE(mnist_dockerfile_.size(), 2u);
  EXPECT_EQ(mnist_dockerfile_.front().base_image, "debian:12");
  EXPECT_TRUE(absl::StrContains(
      absl::StrJoin(mnist_dockerfile_.front().All("RUN"), "\n"),
      "scripts/install-deps.sh"));
  EXPECT_EQ(Runtime(mnist_dockerfile_).base_image, "debian:12-slim");

  // Both run as the same non-root user.
  for (const auto* stages : {&dockerfile_, &mnist_dockerfile_}) {
    std::vector<std::string> users = Runtime(*stages).All("USER");
    ASSERT_EQ(users.size(), 1u);
    EXPECT_EQ(users[0], "10001:10001");
  }
  EXPECT_EQ(
      StatefulSet()["spec"]["template"]["spec"]["securityContext"]["runAsUser"]
          .as<int>(),
      10001);
}

// The build stages build into /src/build; the runtime stages copy the
// binaries from where this project's CMake puts them.
TEST_F(DeployTest, ImagesCopyTheBinariesFromWhereTheBuildPutsThem) {
  auto copied_from_build = [](const std::vector<DockerStage>& stages) {
    std::string sources;
    for (const std::string& copy : stages.back().All("COPY")) {
      if (absl::StartsWith(copy, "--from=build ")) {
        absl::StrAppend(&sources, copy, "\n");
      }
    }
    return sources;
  };
  auto in_build_tree = [](const std::string& binary) {
    return " /src/build/" +
           fs::path(binary).lexically_relative(LRMEM_BINARY_DIR).string();
  };
  const std::string server_copies = copied_from_build(dockerfile_);
  EXPECT_TRUE(absl::StrContains(server_copies,
                                in_build_tree(LRMEM_SERVER_BINARY) + " "))
      << server_copies;
  EXPECT_TRUE(
      absl::StrContains(server_copies, in_build_tree(LRMEMCTL_BINARY) + " "))
      << server_copies;
  if (std::string(LRMEM_MNIST_BINARY).empty()) {
    GTEST_SKIP() << "lrmem-mnist is not built (LRMEM_WITH_TORCH=OFF)";
  }
  const std::string job_copies = copied_from_build(mnist_dockerfile_);
  EXPECT_TRUE(
      absl::StrContains(job_copies, in_build_tree(LRMEM_MNIST_BINARY) + " "))
      << job_copies;
}

TEST_F(DeployTest, SystemdUnitIsHardenedAndVerifies) {
  const std::vector<std::pair<std::string, std::string>> required = {
      {"DynamicUser", "yes"},      {"StateDirectory", "lrmem"},
      {"ProtectSystem", "strict"}, {"ProtectHome", "yes"},
      {"NoNewPrivileges", "yes"},  {"Restart", "on-failure"},
      {"KillSignal", "SIGTERM"}};
  for (const auto& [key, value] : required) {
    EXPECT_EQ(UnitValue(unit_, "Service", key), value) << key;
  }
  EXPECT_EQ(UnitValue(unit_, "Install", "WantedBy"), "multi-user.target");

  // systemd-analyze checks the syntax; it wants the binary to exist, so the
  // copy points at the one just built.
  if (RunCommand({"systemd-analyze", "--version"}).exit_code != 0) {
    GTEST_SKIP() << "systemd-analyze is not installed";
  }
  const std::string exec_start = SystemdInvocation().words.at(0);
  std::string unit = ReadFile(fs::path(LRMEM_SOURCE_DIR) /
                              "deploy/systemd/lrmem-server.service")
                         .value_or("");
  unit.replace(unit.find(exec_start), exec_start.size(), LRMEM_SERVER_BINARY);
  const fs::path dir =
      fs::temp_directory_path() / absl::StrCat("lrmem-deploy-", getpid());
  fs::create_directories(dir);
  const fs::path copy = dir / "lrmem-server.service";
  {
    std::ofstream out(copy);
    out << unit;
  }
  CommandResult verify = RunCommand({"systemd-analyze", "verify", copy});
  fs::remove_all(dir);
  EXPECT_EQ(verify.exit_code, 0) << verify.output;
  EXPECT_EQ(verify.output, "") << "systemd-analyze has remarks";
}

// The Debian packages that ship `libraries`, by library; "" for a library
// dpkg knows nothing of. ldd may name a library by a path dpkg does not list
// (/lib versus /usr/lib on a merged /usr, or a link that
// update-alternatives manages), so those paths are asked about too, all in
// one dpkg-query call (each call reads every package's file list).
std::map<std::string, std::string> PackagesOf(
    const std::vector<std::string>& libraries) {
  std::map<std::string, std::vector<std::string>> candidates;
  std::vector<std::string> query = {"dpkg-query", "-S"};
  for (const std::string& library : libraries) {
    std::vector<std::string>& paths = candidates[library];
    paths.push_back(library);
    if (absl::StartsWith(library, "/lib")) paths.push_back("/usr" + library);
    std::error_code error;
    const fs::path real = fs::canonical(library, error);
    if (!error) paths.push_back(real.string());
    query.insert(query.end(), paths.begin(), paths.end());
  }

  // "libfoo1:amd64: /usr/lib/x86_64-linux-gnu/libfoo.so.1"; paths it does
  // not know get a complaint instead.
  std::map<std::string, std::string> owner_of_path;
  for (absl::string_view line :
       absl::StrSplit(RunCommand(query).output, '\n')) {
    const size_t separator = line.find(": /");
    if (separator == absl::string_view::npos) continue;
    absl::string_view package = line.substr(0, separator);
    if (absl::StartsWith(package, "diversion ")) continue;
    package = package.substr(0, package.find_first_of(":,"));
    owner_of_path[std::string(line.substr(separator + 2))] =
        std::string(package);
  }

  std::map<std::string, std::string> packages;
  for (const auto& [library, paths] : candidates) {
    std::string& package = packages[library];
    for (const std::string& path : paths) {
      auto found = owner_of_path.find(path);
      if (found != owner_of_path.end() && package.empty()) {
        package = found->second;
      }
    }
  }
  return packages;
}

// The absolute paths of the shared libraries `binary` loads.
std::vector<std::string> SharedLibraries(const std::string& binary) {
  std::vector<std::string> libraries;
  for (const std::string& word :
       SplitCommandLine(RunCommand({"ldd", binary}).output)) {
    if (absl::StartsWith(word, "/")) libraries.push_back(word);
  }
  return libraries;
}

// `packages` and everything they depend on, as far as installed packages
// tell (alternatives and virtual packages included).
std::set<std::string> DependencyClosure(
    const std::vector<std::string>& packages) {
  // One dpkg-query for every installed package: name, dependencies,
  // what it provides.
  std::map<std::string, std::vector<std::string>> depends;
  std::map<std::string, std::vector<std::string>> providers;
  const std::string listing =
      RunCommand({"dpkg-query", "-W", "-f",
                  "${Package}\t${Pre-Depends}, ${Depends}\t${Provides}\n"})
          .output;
  auto names = [](absl::string_view field) {
    std::vector<std::string> result;
    for (absl::string_view item :
         absl::StrSplit(field, absl::ByAnyChar(",|"))) {
      item = absl::StripAsciiWhitespace(item);
      item = item.substr(0, item.find_first_of(" :("));
      if (!item.empty()) result.push_back(std::string(item));
    }
    return result;
  };
  for (absl::string_view line : absl::StrSplit(listing, '\n')) {
    std::vector<absl::string_view> fields = absl::StrSplit(line, '\t');
    if (fields.size() != 3) continue;
    const std::string package(fields[0]);
    depends[package] = names(fields[1]);
    for (const std::string& virtual_name : names(fields[2])) {
      providers[virtual_name].push_back(package);
    }
  }

  std::set<std::string> closure;
  std::vector<std::string> pending = packages;
  while (!pending.empty()) {
    const std::string package = pending.back();
    pending.pop_back();
    if (!closure.insert(package).second) continue;
    for (const std::string& dependency : depends[package])
      pending.push_back(dependency);
    for (const std::string& provider : providers[package])
      pending.push_back(provider);
  }
  return closure;
}

// One message per library of `binaries` whose package the runtime stage of
// `stages` does not install (directly or as a dependency).
std::vector<std::string> UncoveredLibraries(
    const std::string& dockerfile_name, const std::vector<DockerStage>& stages,
    const std::vector<std::string>& binaries) {
  std::vector<std::string> listed;
  for (const std::string& run : stages.back().All("RUN")) {
    for (const std::string& package : AptInstallPackages(run)) {
      listed.push_back(package);
    }
  }
  const std::set<std::string> covered = DependencyClosure(listed);
  std::vector<std::string> problems;
  if (listed.empty()) {
    problems.push_back(dockerfile_name +
                       ": the runtime stage installs nothing");
  }
  for (const std::string& binary : binaries) {
    const std::string name = fs::path(binary).filename().string();
    const std::vector<std::string> libraries = SharedLibraries(binary);
    if (libraries.empty()) problems.push_back("ldd lists nothing for " + name);
    const std::map<std::string, std::string> packages = PackagesOf(libraries);
    for (const std::string& library : libraries) {
      const std::string& package = packages.at(library);
      if (package.empty()) {
        problems.push_back(absl::StrCat(name, " loads ", library,
                                        ", which no Debian package ships"));
      } else if (covered.count(package) == 0) {
        problems.push_back(absl::StrCat(name, " loads ", library,
                                        " from the Debian package ", package,
                                        ", which the runtime stage of ",
                                        dockerfile_name, " does not install"));
      }
    }
  }
  return problems;
}

bool HaveDpkg() {
  return RunCommand({"dpkg-query", "--version"}).exit_code == 0;
}

TEST_F(DeployTest, ServerImageInstallsEveryLibraryTheBinariesLoad) {
  if (!HaveDpkg()) GTEST_SKIP() << "no dpkg to name the packages";
  EXPECT_EQ(Joined(UncoveredLibraries("Dockerfile", dockerfile_,
                                      {LRMEM_SERVER_BINARY, LRMEMCTL_BINARY})),
            "");
}

TEST_F(DeployTest, JobImageInstallsEveryLibraryLrmemMnistLoads) {
  if (!HaveDpkg()) GTEST_SKIP() << "no dpkg to name the packages";
  if (std::string(LRMEM_MNIST_BINARY).empty()) {
    GTEST_SKIP() << "lrmem-mnist is not built (LRMEM_WITH_TORCH=OFF)";
  }
  EXPECT_EQ(Joined(UncoveredLibraries("deploy/Dockerfile.mnist",
                                      mnist_dockerfile_, {LRMEM_MNIST_BINARY})),
            "");
}

TEST_F(DeployTest, TheLibraryCheckCanFail) {
  if (!HaveDpkg()) GTEST_SKIP() << "no dpkg to name the packages";
  // A runtime stage without gRPC cannot run the server.
  std::vector<DockerStage> stripped = dockerfile_;
  for (DockerInstruction& instruction : stripped.back().instructions) {
    if (instruction.keyword != "RUN") continue;
    for (const char* package : {"libgrpc++1.51 ", "libgrpc29 "}) {
      const size_t at = instruction.arguments.find(package);
      if (at != std::string::npos) {
        instruction.arguments.erase(at, strlen(package));
      }
    }
  }
  const std::string problems =
      Joined(UncoveredLibraries("stripped", stripped, {LRMEM_SERVER_BINARY}));
  EXPECT_TRUE(absl::StrContains(problems, "libgrpc++")) << problems;
}

// A fresh directory, removed with everything in it at the end of scope.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TEST_TMPDIR");
    std::string pattern =
        (fs::path(base != nullptr ? base : "/tmp") / "lrmem-deploy-XXXXXX")
            .string();
    if (mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    if (!path_.empty()) fs::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST_F(DeployTest, ImageEntrypointServesHealthAndDrainsOnItsStopSignal) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const int port = FreeLocalPort();
  const int metrics_port = FreeLocalPort();
  ASSERT_GT(port, 0);
  const std::string address = absl::StrCat("127.0.0.1:", port);

  // The HEALTHCHECK as the image runs it, aimed at this test's port.
  std::vector<std::string> health = HealthcheckCommand();
  ASSERT_FALSE(health.empty());
  health[0] = LRMEMCTL_BINARY;
  health.push_back("--server=" + address);
  EXPECT_NE(RunCommand(health, 30).exit_code, 0)
      << "healthy with no server running";

  // The ENTRYPOINT as the image runs it; the flags added after it move the
  // server to free localhost ports and a temporary data directory (later
  // flags win), so every flag of the image is still parsed.
  std::vector<std::string> server = Entrypoint(dockerfile_);
  ASSERT_FALSE(server.empty());
  server[0] = LRMEM_SERVER_BINARY;
  server.push_back("--listen=" + address);
  server.push_back("--data_dir=" + dir.path() + "/data");
  server.push_back(absl::StrCat("--metrics_listen=127.0.0.1:", metrics_port));
  ChildProcess child(server, dir.path() + "/server.log");
  ASSERT_TRUE(child.started());

  // Healthy within the HEALTHCHECK's start period, each check well inside
  // its 3 s timeout.
  CommandResult check;
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    const auto start = std::chrono::steady_clock::now();
    check = RunCommand(health, 30);
    const auto took = std::chrono::steady_clock::now() - start;
    if (check.exit_code == 0) {
      EXPECT_LT(took, std::chrono::seconds(3));
      break;
    }
    ASSERT_FALSE(child.WaitForExit(0).has_value()) << child.Log();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ASSERT_EQ(check.exit_code, 0) << check.output << "\n" << child.Log();

  // STOPSIGNAL: a clean exit within the grace period.
  child.Signal(SIGTERM);
  const int64_t grace_ms = GracePeriodMs({"Dockerfile", server});
  std::optional<int> exit_code =
      child.WaitForExit(static_cast<int>(grace_ms) + 10000);
  ASSERT_TRUE(exit_code.has_value()) << "still running\n" << child.Log();
  EXPECT_EQ(*exit_code, 0) << child.Log();
  EXPECT_NE(RunCommand(health, 30).exit_code, 0) << "healthy after exit";
}

}  // namespace
}  // namespace lrmem::deploy
