// The admin API against a real server on localhost with a real RocksDB:
// names, memories, snapshots, export and import, limits and health.

#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "common/memory.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/crc32c.h"
#include "server/export_file.h"
#include "tests/server_test_util.h"

namespace lrmem::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr v1::SessionMode kStatistics = v1::SESSION_MODE_STATISTICS;

class AdminTest : public ::testing::Test {
 protected:
  void SetUp() override { Restart(); }

  void Restart(size_t max_memories = 10000) {
    server_.reset();
    LrmemServer::Options options = TestServerOptions(dir_.path());
    options.registry.max_memories = max_memories;
    absl::StatusOr<std::unique_ptr<LrmemServer>> server =
        LrmemServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    stub_ = Connect(server_->port());
  }

  grpc::Status Create(const std::string& name, v1::MemoryInfo* info = nullptr) {
    grpc::ClientContext context;
    v1::CreateMemoryRequest request;
    request.set_name(name);
    request.mutable_config()->set_num_local_models(5);
    request.mutable_config()->set_center_layout(v1::CENTER_LAYOUT_EVEN);
    v1::MemoryInfo ignored;
    return stub_->CreateMemory(&context, request, info ? info : &ignored);
  }

  grpc::Status Get(const std::string& name, v1::MemoryInfo* info) {
    grpc::ClientContext context;
    v1::GetMemoryRequest request;
    request.set_name(name);
    request.set_include_values(true);
    return stub_->GetMemory(&context, request, info);
  }

  grpc::Status Delete(const std::string& name) {
    grpc::ClientContext context;
    v1::DeleteMemoryRequest request;
    request.set_name(name);
    v1::DeleteMemoryResponse response;
    return stub_->DeleteMemory(&context, request, &response);
  }

  grpc::Status Snapshot(const std::string& memory, const std::string& name) {
    grpc::ClientContext context;
    v1::CreateSnapshotRequest request;
    request.set_memory(memory);
    request.set_snapshot(name);
    v1::SnapshotInfo info;
    return stub_->CreateSnapshot(&context, request, &info);
  }

  grpc::Status Restore(const std::string& snapshot, const std::string& memory,
                       bool overwrite, bool reset, v1::MemoryInfo* info) {
    grpc::ClientContext context;
    v1::RestoreSnapshotRequest request;
    request.set_snapshot(snapshot);
    request.set_memory(memory);
    request.set_overwrite(overwrite);
    request.set_reset_optimizer(reset);
    return stub_->RestoreSnapshot(&context, request, info);
  }

  // `steps` statistics-mode steps with a constant positive statistic, which
  // raises every value.
  void Train(const std::string& memory, int steps) {
    TrainStream stream(stub_.get());
    v1::SessionOpened opened =
        stream.Open(OpenRequest(memory, "t", {{"g", 3}}, kStatistics));
    for (int t = 1; t <= steps; ++t) {
      v1::StepResult result =
          stream.Step(StepRequest(opened.last_sequence() + t, kStatistics,
                                  {{"g", std::vector<float>(5, 0.5f)}}));
      ASSERT_FALSE(result.has_error()) << result.error().message();
    }
  }

  std::vector<float> Values(const std::string& memory) {
    v1::MemoryInfo info;
    EXPECT_TRUE(Get(memory, &info).ok());
    if (info.groups_size() == 0) return {};
    return {info.groups(0).values().begin(), info.groups(0).values().end()};
  }

  TempDir dir_;
  std::unique_ptr<LrmemServer> server_;
  std::unique_ptr<v1::LearningRateMemory::Stub> stub_;
};

TEST_F(AdminTest, HealthIsServing) {
  EXPECT_EQ(HealthStatus(server_->port()), "SERVING");
}

TEST_F(AdminTest, Crc32cOfTheStandardCheckString) {
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(Crc32c(""), 0u);
}

TEST_F(AdminTest, PrefixLikeNamesAreDistinctAndSurviveARestart) {
  ASSERT_TRUE(Create("run").ok());
  ASSERT_TRUE(Create("run2").ok());
  ASSERT_TRUE(Create("run/x").ok());
  Train("run", 3);
  Train("run/x", 1);

  Restart();
  v1::MemoryInfo info;
  ASSERT_TRUE(Get("run", &info).ok());
  EXPECT_EQ(info.steps(), 3u);
  ASSERT_TRUE(Get("run2", &info).ok());
  EXPECT_EQ(info.steps(), 0u);
  ASSERT_TRUE(Get("run/x", &info).ok());
  EXPECT_EQ(info.steps(), 1u);

  ASSERT_TRUE(Delete("run").ok());
  EXPECT_EQ(Get("run", &info).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(Get("run2", &info).ok());
  EXPECT_TRUE(Get("run/x", &info).ok());
  Restart();
  EXPECT_EQ(Get("run", &info).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(Get("run2", &info).ok());
}

TEST_F(AdminTest, InvalidAndTakenNames) {
  for (const std::string& bad :
       {std::string(), std::string(300, 'a'), std::string("a\x01z"),
        std::string("tab\there")}) {
    grpc::Status status = Create(bad);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << "name of " << bad.size() << " bytes";
    EXPECT_THAT(status.error_message(), HasSubstr("memory"));
  }
  // Name fields are bytes on the wire, so invalid UTF-8 reaches the service
  // and is refused there, with a message that says so; nothing is created.
  v1::MemoryInfo info;
  for (const std::string& bad : {std::string("bad\xc3("), std::string("\xff"),
                                 std::string("\xed\xa0\x80")}) {
    grpc::Status created = Create(bad);
    EXPECT_EQ(created.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(created.error_message(), HasSubstr("UTF-8"));
    EXPECT_EQ(Get(bad, &info).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  grpc::ClientContext list_context;
  v1::ListMemoriesResponse listed;
  ASSERT_TRUE(
      stub_->ListMemories(&list_context, v1::ListMemoriesRequest(), &listed)
          .ok());
  EXPECT_EQ(listed.memories_size(), 0);

  ASSERT_TRUE(Create("taken").ok());
  grpc::Status status = Create("taken");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_THAT(status.error_message(), HasSubstr("'taken'"));
  EXPECT_EQ(Get("nope", &info).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Delete("nope").error_code(), grpc::StatusCode::NOT_FOUND);

  grpc::ClientContext context;
  v1::CreateMemoryRequest request;
  request.set_name("bad-config");
  request.mutable_config()->set_lr_min(-1.0f);
  EXPECT_EQ(stub_->CreateMemory(&context, request, &info).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(AdminTest, ListIsPagedInNameOrder) {
  for (const char* name : {"e", "a", "d", "b", "c"}) {
    ASSERT_TRUE(Create(name).ok());
  }
  std::vector<std::string> names;
  v1::ListMemoriesRequest request;
  request.set_page_size(2);
  int pages = 0;
  do {
    grpc::ClientContext context;
    v1::ListMemoriesResponse response;
    ASSERT_TRUE(stub_->ListMemories(&context, request, &response).ok());
    for (const auto& info : response.memories()) names.push_back(info.name());
    request.set_page_token(response.next_page_token());
    ++pages;
  } while (!request.page_token().empty());
  EXPECT_THAT(names, ElementsAre("a", "b", "c", "d", "e"));
  EXPECT_EQ(pages, 3);
}

TEST_F(AdminTest, MemoryLimit) {
  Restart(/*max_memories=*/2);
  ASSERT_TRUE(Create("one").ok());
  ASSERT_TRUE(Create("two").ok());
  grpc::Status status = Create("three");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(), HasSubstr("2"));
}

TEST_F(AdminTest, SnapshotsRestoreCopyAndReset) {
  ASSERT_TRUE(Create("m").ok());
  Train("m", 4);
  const std::vector<float> learned = Values("m");
  ASSERT_EQ(learned.size(), 5u);
  EXPECT_NE(learned, std::vector<float>(5, 0.001f));

  ASSERT_TRUE(Snapshot("m", "s").ok());
  EXPECT_EQ(Snapshot("m", "s").error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(Snapshot("nope", "s2").error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Snapshot("m", "").error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  Train("m", 2);  // the snapshot must not follow the memory
  EXPECT_NE(Values("m"), learned);

  v1::MemoryInfo info;
  ASSERT_TRUE(Restore("s", "copy", false, false, &info).ok());
  EXPECT_EQ(info.steps(), 4u);
  EXPECT_TRUE(BitEqual(Values("copy"), learned));
  EXPECT_EQ(Restore("s", "copy", false, false, &info).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(Restore("missing", "x", false, false, &info).error_code(),
            grpc::StatusCode::NOT_FOUND);

  // Back into the source itself, keeping only the values.
  ASSERT_TRUE(Restore("s", "m", true, true, &info).ok());
  EXPECT_EQ(info.steps(), 0u);
  v1::MemoryInfo m;
  ASSERT_TRUE(Get("m", &m).ok());
  EXPECT_EQ(m.groups(0).updates(), 0u);
  EXPECT_TRUE(BitEqual(Values("m"), learned));

  grpc::ClientContext copy_context;
  v1::CopyMemoryRequest copy;
  copy.set_source("copy");
  copy.set_destination("copy2");
  ASSERT_TRUE(stub_->CopyMemory(&copy_context, copy, &info).ok());
  EXPECT_TRUE(BitEqual(Values("copy2"), learned));

  // Listing, filtered by source memory, and deleting.
  ASSERT_TRUE(Snapshot("copy", "t").ok());
  grpc::ClientContext list_context;
  v1::ListSnapshotsRequest list;
  list.set_memory("m");
  v1::ListSnapshotsResponse listed;
  ASSERT_TRUE(stub_->ListSnapshots(&list_context, list, &listed).ok());
  ASSERT_EQ(listed.snapshots_size(), 1);
  EXPECT_EQ(listed.snapshots(0).name(), "s");
  EXPECT_EQ(listed.snapshots(0).source_steps(), 4u);
  EXPECT_EQ(listed.snapshots(0).groups(), 1u);

  grpc::ClientContext delete_context;
  v1::DeleteSnapshotRequest del;
  del.set_snapshot("s");
  v1::DeleteSnapshotResponse deleted;
  ASSERT_TRUE(stub_->DeleteSnapshot(&delete_context, del, &deleted).ok());
  EXPECT_EQ(Restore("s", "y", false, false, &info).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(AdminTest, ExportImportRoundTripAndDamagedFiles) {
  ASSERT_TRUE(Create("m").ok());
  Train("m", 3);
  grpc::ClientContext context;
  v1::ExportRequest request;
  request.set_memory("m");
  v1::ExportResponse exported;
  ASSERT_TRUE(stub_->Export(&context, request, &exported).ok());

  auto import = [&](const std::string& file, const std::string& name,
                    bool overwrite) {
    grpc::ClientContext import_context;
    v1::ImportRequest import_request;
    import_request.set_file(file);
    import_request.set_memory(name);
    import_request.set_overwrite(overwrite);
    v1::MemoryInfo info;
    return stub_->Import(&import_context, import_request, &info);
  };
  ASSERT_TRUE(import(exported.file(), "imported", false).ok());
  EXPECT_TRUE(BitEqual(Values("imported"), Values("m")));
  EXPECT_EQ(import(exported.file(), "imported", false).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_TRUE(import(exported.file(), "imported", true).ok());

  // A flipped bit inside one of the stored values.
  const std::vector<float> values = Values("m");
  const std::string value_bytes(reinterpret_cast<const char*>(&values[2]),
                                sizeof(float));
  std::string damaged = exported.file();
  const size_t at = damaged.find(value_bytes);
  ASSERT_NE(at, std::string::npos);
  damaged[at] ^= 0x01;
  grpc::Status status = import(damaged, "damaged", false);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DATA_LOSS);
  EXPECT_THAT(status.error_message(), HasSubstr("checksum"));
  EXPECT_EQ(import("not a file", "x", false).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  v1::MemoryInfo info;
  EXPECT_EQ(Get("damaged", &info).error_code(), grpc::StatusCode::NOT_FOUND);

  // A well-formed file whose state breaks the memory's rules.
  v1::ExportFile file;
  ASSERT_TRUE(file.ParseFromString(exported.file()));
  EXPECT_EQ(file.format(), "lrmem.v1.MemoryState");
  EXPECT_EQ(file.source_name(), "m");
  v1::MemoryState state = file.state();
  state.mutable_groups(0)->set_values(1, 5.0f);  // above lr_max
  status = import(EncodeExportFile("m", state, absl::Now()), "invalid", false);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Get("invalid", &info).error_code(), grpc::StatusCode::NOT_FOUND);
}

// Below the wire, where a name can hold any bytes: the admin itself rejects
// invalid UTF-8.
TEST(MemoryAdminTest, RejectsInvalidUtf8Names) {
  TempDir dir;
  Store::Options store_options;
  store_options.path = dir.path();
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(store_options);
  ASSERT_TRUE(store.ok()) << store.status();
  absl::StatusOr<std::unique_ptr<MemoryRegistry>> registry =
      MemoryRegistry::Open({}, store->get());
  ASSERT_TRUE(registry.ok()) << registry.status();
  MemoryAdmin admin({}, registry->get(), store->get());

  v1::CreateMemoryRequest request;
  request.set_name("bad\xc3(");
  absl::StatusOr<v1::MemoryInfo> created = admin.CreateMemory(request);
  EXPECT_EQ(created.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(created.status().message(), HasSubstr("UTF-8"));
  EXPECT_EQ((*registry)->size(), 0u);

  v1::CreateSnapshotRequest snapshot;
  snapshot.set_memory("m");
  snapshot.set_snapshot("\xff");
  EXPECT_EQ(admin.CreateSnapshot(snapshot).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// A stored memory that no longer reads back (here a value above lr_max, as
// a bug or a disk could leave it) is refused by name with DATA_LOSS; every
// other memory is served, and the bad one can be overwritten or deleted.
TEST(MemoryRegistryTest, AnUnreadableMemoryIsRefusedAndTheOthersServed) {
  TempDir dir;
  Store::Options store_options;
  store_options.path = dir.path();
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(store_options);
  ASSERT_TRUE(store.ok()) << store.status();
  absl::StatusOr<Memory> memory = Memory::Create(MemoryConfig());
  ASSERT_TRUE(memory.ok());
  memory->GroupOrNew("g");
  v1::MemoryState bad = memory->ToProto();
  bad.mutable_groups(0)->set_values(3, 5.0f);
  ASSERT_TRUE((*store)->PutMemory("good", memory->ToProto()).ok());
  ASSERT_TRUE((*store)->PutMemory("bad", bad).ok());
  ASSERT_TRUE((*store)->PutMemory("worse", bad).ok());

  absl::StatusOr<std::unique_ptr<MemoryRegistry>> registry =
      MemoryRegistry::Open({}, store->get());
  ASSERT_TRUE(registry.ok()) << registry.status();
  EXPECT_EQ((*registry)->size(), 1u);
  EXPECT_TRUE((*registry)->Find("good").ok());
  absl::Status lost = (*registry)->Find("bad").status();
  EXPECT_EQ(lost.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(lost.message(), HasSubstr("'bad'"));
  EXPECT_THAT(lost.message(), HasSubstr("lr_max"));
  EXPECT_EQ((*registry)->FindOrCreate("bad", MemoryConfig()).status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(
      (*registry)->Add("bad", *memory, /*overwrite=*/false).status().code(),
      absl::StatusCode::kDataLoss);

  // Overwritten, it is a memory again; deleted, it is gone for good.
  EXPECT_TRUE((*registry)->Add("bad", *memory, /*overwrite=*/true).ok());
  EXPECT_TRUE((*registry)->Find("bad").ok());
  EXPECT_TRUE((*registry)->Remove("worse").ok());
  EXPECT_EQ((*registry)->Find("worse").status().code(),
            absl::StatusCode::kNotFound);

  registry->reset();
  registry = MemoryRegistry::Open({}, store->get());
  ASSERT_TRUE(registry.ok()) << registry.status();
  EXPECT_EQ((*registry)->size(), 2u);
  EXPECT_EQ((*registry)->Find("worse").status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace lrmem::testing
