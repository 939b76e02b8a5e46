// Client's admin calls against a real server: every call round trips, and
// the server's error codes and messages reach the caller unchanged.

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "lrmem/client.h"
#include "tests/client_test_env.h"

namespace lrmem {
namespace {

using ::lrmem::testing::ServerTest;

MemoryConfig SmallConfig() {
  MemoryConfig config;
  config.num_local_models = 5;
  config.initial_learning_rate = 0.05f;
  return config;
}

class ClientAdminTest : public ServerTest {};

TEST_F(ClientAdminTest, CreateGetListDeleteRoundTrip) {
  absl::StatusOr<v1::MemoryInfo> created =
      client_->CreateMemory("alpha", SmallConfig());
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(created->name(), "alpha");
  EXPECT_EQ(created->config().num_local_models(), 5u);
  EXPECT_EQ(created->centers_size(), 5);
  ASSERT_TRUE(client_->CreateMemory("beta", SmallConfig()).ok());

  absl::StatusOr<v1::MemoryInfo> got = client_->GetMemory("alpha");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_FLOAT_EQ(got->config().initial_learning_rate(), 0.05f);

  absl::StatusOr<std::vector<v1::MemoryInfo>> listed = client_->ListMemories();
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].name(), "alpha");
  EXPECT_EQ((*listed)[1].name(), "beta");

  ASSERT_TRUE(client_->DeleteMemory("alpha").ok());
  EXPECT_TRUE(absl::IsNotFound(client_->GetMemory("alpha").status()));
}

TEST_F(ClientAdminTest, ServerCodesAndMessagesAreKept) {
  ASSERT_TRUE(client_->CreateMemory("alpha", SmallConfig()).ok());

  absl::Status exists = client_->CreateMemory("alpha", SmallConfig()).status();
  EXPECT_TRUE(absl::IsAlreadyExists(exists)) << exists;
  EXPECT_NE(exists.message().find("alpha"), absl::string_view::npos) << exists;

  absl::Status missing = client_->GetMemory("nope").status();
  EXPECT_TRUE(absl::IsNotFound(missing)) << missing;
  EXPECT_NE(missing.message().find("nope"), absl::string_view::npos) << missing;
  EXPECT_TRUE(absl::IsNotFound(client_->DeleteMemory("nope")));
  EXPECT_TRUE(absl::IsNotFound(client_->DeleteSnapshot("nope")));

  MemoryConfig bad = SmallConfig();
  bad.lr_min = 2.0f;  // above lr_max
  absl::Status invalid = client_->CreateMemory("gamma", bad).status();
  EXPECT_TRUE(absl::IsInvalidArgument(invalid)) << invalid;
  EXPECT_NE(invalid.message().find("lr_m"), absl::string_view::npos) << invalid;
  EXPECT_TRUE(absl::IsInvalidArgument(
      client_->CreateMemory("", SmallConfig()).status()));
}

TEST_F(ClientAdminTest, CopySnapshotRestore) {
  ASSERT_TRUE(client_->CreateMemory("alpha", SmallConfig()).ok());

  absl::StatusOr<v1::MemoryInfo> copy = client_->CopyMemory("alpha", "copy");
  ASSERT_TRUE(copy.ok()) << copy.status();
  EXPECT_EQ(copy->name(), "copy");
  EXPECT_TRUE(
      absl::IsAlreadyExists(client_->CopyMemory("alpha", "copy").status()));
  EXPECT_TRUE(absl::IsNotFound(client_->CopyMemory("nope", "other").status()));

  absl::StatusOr<v1::SnapshotInfo> snapshot =
      client_->CreateSnapshot("alpha", "snap");
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  EXPECT_EQ(snapshot->source_memory(), "alpha");
  EXPECT_TRUE(
      absl::IsAlreadyExists(client_->CreateSnapshot("alpha", "snap").status()));

  absl::StatusOr<std::vector<v1::SnapshotInfo>> listed =
      client_->ListSnapshots("alpha");
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].name(), "snap");

  EXPECT_TRUE(absl::IsAlreadyExists(
      client_->RestoreSnapshot("snap", "alpha").status()));
  RestoreOptions overwrite;
  overwrite.overwrite = true;
  overwrite.reset_optimizer = true;
  EXPECT_TRUE(client_->RestoreSnapshot("snap", "alpha", overwrite).ok());
  absl::StatusOr<v1::MemoryInfo> restored =
      client_->RestoreSnapshot("snap", "fresh");
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(restored->name(), "fresh");

  ASSERT_TRUE(client_->DeleteSnapshot("snap").ok());
  EXPECT_TRUE(
      absl::IsNotFound(client_->RestoreSnapshot("snap", "other").status()));
}

TEST_F(ClientAdminTest, ExportImportRoundTrip) {
  ASSERT_TRUE(client_->CreateMemory("alpha", SmallConfig()).ok());
  absl::StatusOr<std::string> file = client_->ExportMemory("alpha");
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_FALSE(file->empty());

  absl::StatusOr<v1::MemoryInfo> imported = client_->Import(*file, "beta");
  ASSERT_TRUE(imported.ok()) << imported.status();
  EXPECT_EQ(imported->config().num_local_models(), 5u);
  EXPECT_TRUE(absl::IsAlreadyExists(client_->Import(*file, "beta").status()));
  EXPECT_TRUE(client_->Import(*file, "beta", /*overwrite=*/true).ok());

  std::string damaged = *file;
  damaged[damaged.size() / 2] ^= 0x5a;
  EXPECT_TRUE(
      absl::IsInvalidArgument(client_->Import(damaged, "gamma").status()));
  EXPECT_TRUE(absl::IsNotFound(client_->ExportMemory("nope").status()));
  EXPECT_TRUE(absl::IsNotFound(client_->ExportSnapshot("nope").status()));
}

TEST(ClientUnreachableTest, UnreachableServerIsUnavailable) {
  ClientOptions options;
  options.deadline = absl::Seconds(2);
  Client client("127.0.0.1:1", options);
  absl::Status status = client.GetMemory("alpha").status();
  EXPECT_TRUE(absl::IsUnavailable(status) || absl::IsDeadlineExceeded(status))
      << status;
}

}  // namespace
}  // namespace lrmem
