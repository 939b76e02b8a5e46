#include "server/store.h"

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "rocksdb/options.h"
#include "rocksdb/write_batch.h"

namespace lrmem {
namespace {

constexpr char kMemoriesFamily[] = "memories";
constexpr char kSnapshotsFamily[] = "snapshots";

rocksdb::Slice ToSlice(absl::string_view s) {
  return rocksdb::Slice(s.data(), s.size());
}

// The RocksDB status as an absl::Status with a comparable code.
absl::Status FromRocksDb(const rocksdb::Status& status,
                         absl::string_view what) {
  if (status.ok()) return absl::OkStatus();
  std::string message = absl::StrCat(what, ": ", status.ToString());
  if (status.IsNotFound()) return absl::NotFoundError(message);
  if (status.IsCorruption()) return absl::DataLossError(message);
  if (status.IsIOError() || status.IsBusy() || status.IsTimedOut() ||
      status.IsTryAgain()) {
    return absl::UnavailableError(message);
  }
  return absl::InternalError(message);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Store>> Store::Open(const Options& options) {
  if (options.path.empty()) {
    return absl::InvalidArgumentError("store: empty data directory");
  }
  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  // The host is shared with training jobs: keep background work small.
  db_options.max_background_jobs = 2;

  std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()},
      {kMemoriesFamily, rocksdb::ColumnFamilyOptions()},
      {kSnapshotsFamily, rocksdb::ColumnFamilyOptions()}};
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw_db = nullptr;
  rocksdb::Status status =
      rocksdb::DB::Open(db_options, options.path, families, &handles, &raw_db);
  if (!status.ok()) {
    absl::Status error = FromRocksDb(
        status, absl::StrCat("cannot open store in '", options.path, "'"));
    LOG(ERROR) << error;
    return error;
  }
  return std::unique_ptr<Store>(
      new Store(options, std::unique_ptr<rocksdb::DB>(raw_db), handles));
}

Store::Store(const Options& options, std::unique_ptr<rocksdb::DB> db,
             std::vector<rocksdb::ColumnFamilyHandle*> handles)
    : options_(options), db_(std::move(db)), handles_(std::move(handles)) {
  memories_ = handles_[1];
  snapshots_ = handles_[2];
}

Store::~Store() {
  absl::Status status = Flush();
  if (!status.ok()) LOG(ERROR) << "closing store: " << status;
  for (rocksdb::ColumnFamilyHandle* handle : handles_) {
    db_->DestroyColumnFamilyHandle(handle);
  }
  rocksdb::Status closed = db_->Close();
  if (!closed.ok()) LOG(ERROR) << "closing store: " << closed.ToString();
}

absl::Status Store::Put(rocksdb::ColumnFamilyHandle* family,
                        absl::string_view key, const std::string& value) {
  rocksdb::WriteBatch batch;
  rocksdb::Status status = batch.Put(family, ToSlice(key), value);
  if (status.ok()) status = Write(&batch);
  return FromRocksDb(status, absl::StrCat("writing '", key, "'"));
}

rocksdb::Status Store::Write(rocksdb::WriteBatch* batch) {
  rocksdb::WriteOptions write_options;
  write_options.sync = options_.sync_writes;
  const auto start = std::chrono::steady_clock::now();
  rocksdb::Status status = db_->Write(write_options, batch);
  if (options_.metrics != nullptr) {
    options_.metrics->StoreWrite(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count());
  }
  return status;
}

absl::Status Store::Delete(rocksdb::ColumnFamilyHandle* family,
                           absl::string_view key) {
  rocksdb::WriteBatch batch;
  rocksdb::Status status = batch.Delete(family, ToSlice(key));
  if (status.ok()) status = Write(&batch);
  return FromRocksDb(status, absl::StrCat("deleting '", key, "'"));
}

absl::Status Store::ForEachMemory(
    const std::function<absl::Status(const std::string& name,
                                     const v1::MemoryState& state)>& visit) {
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions(), memories_));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    std::string name = it->key().ToString();
    v1::MemoryState state;
    if (!state.ParseFromArray(it->value().data(),
                              static_cast<int>(it->value().size()))) {
      return absl::DataLossError(
          absl::StrCat("memory '", name, "': stored state is unreadable"));
    }
    absl::Status status = visit(name, state);
    if (!status.ok()) return status;
  }
  return FromRocksDb(it->status(), "reading memories");
}

absl::Status Store::PutMemory(absl::string_view name,
                              const v1::MemoryState& state) {
  return Put(memories_, name, state.SerializeAsString());
}

absl::Status Store::DeleteMemory(absl::string_view name) {
  return Delete(memories_, name);
}

absl::StatusOr<v1::ExportFile> Store::GetSnapshot(absl::string_view name) {
  std::string value;
  rocksdb::Status status =
      db_->Get(rocksdb::ReadOptions(), snapshots_, ToSlice(name), &value);
  if (status.IsNotFound()) {
    return absl::NotFoundError(absl::StrCat("snapshot '", name, "' not found"));
  }
  if (!status.ok()) {
    return FromRocksDb(status, absl::StrCat("reading snapshot '", name, "'"));
  }
  v1::ExportFile snapshot;
  if (!snapshot.ParseFromString(value)) {
    return absl::DataLossError(
        absl::StrCat("snapshot '", name, "': stored record is unreadable"));
  }
  return snapshot;
}

absl::Status Store::PutSnapshot(absl::string_view name,
                                const v1::ExportFile& snapshot) {
  return Put(snapshots_, name, snapshot.SerializeAsString());
}

absl::Status Store::DeleteSnapshot(absl::string_view name) {
  return Delete(snapshots_, name);
}

absl::Status Store::ScanSnapshots(
    absl::string_view after,
    const std::function<bool(const std::string& name,
                             const v1::ExportFile& snapshot)>& visit) {
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions(), snapshots_));
  it->Seek(ToSlice(after));
  if (it->Valid() && !after.empty() && it->key() == ToSlice(after)) {
    it->Next();
  }
  for (; it->Valid(); it->Next()) {
    std::string name = it->key().ToString();
    v1::ExportFile snapshot;
    if (!snapshot.ParseFromArray(it->value().data(),
                                 static_cast<int>(it->value().size()))) {
      return absl::DataLossError(
          absl::StrCat("snapshot '", name, "': stored record is unreadable"));
    }
    if (!visit(name, snapshot)) break;
  }
  return FromRocksDb(it->status(), "reading snapshots");
}

absl::Status Store::Flush() {
  absl::Status status = FromRocksDb(db_->FlushWAL(/*sync=*/true), "flush");
  if (!status.ok()) return status;
  rocksdb::FlushOptions flush_options;
  return FromRocksDb(db_->Flush(flush_options, handles_), "flush");
}

}  // namespace lrmem
