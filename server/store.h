// Store: the server's durable state in an embedded RocksDB.
//
// Two column families, each keyed by the exact bytes of a name (no prefix,
// no separator, so `run`, `run2` and `run/x` are unrelated keys):
//
//   memories   name -> serialized lrmem.v1.MemoryState
//   snapshots  name -> serialized lrmem.v1.ExportFile (the state at the
//                      time, its source memory and creation time)
//
// Every write goes through the write-ahead log before it returns, so a
// write that returned OK survives a killed process; with
// Options::sync_writes it also survives a power cut.
//
// Thread-safety: all methods are safe to call concurrently. Callers
// serialize writes to one key themselves where the order matters.

#ifndef LRMEM_SERVER_STORE_H_
#define LRMEM_SERVER_STORE_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "lrmem/v1/service.pb.h"
#include "rocksdb/db.h"
#include "server/metrics.h"

namespace lrmem {

class Store {
 public:
  struct Options {
    // Directory of the database; created when missing. Required.
    std::string path;
    // fsync the write-ahead log on every write (default: off; writes then
    // survive a process crash but not a power cut).
    bool sync_writes = false;
    // Where write latencies go; not owned, may be null (default).
    Metrics* metrics = nullptr;
  };

  // Opens (or creates) the database. INTERNAL or the RocksDB error
  // translated when it cannot be opened, e.g. because another process holds
  // its lock.
  static absl::StatusOr<std::unique_ptr<Store>> Open(const Options& options);

  // Flushes and closes the database.
  ~Store();

  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Calls `visit` for every stored memory in name order. Stops at the first
  // error, from reading or from `visit`; DATA_LOSS for an unparsable value.
  absl::Status ForEachMemory(
      const std::function<absl::Status(const std::string& name,
                                       const v1::MemoryState& state)>& visit);
  absl::Status PutMemory(absl::string_view name, const v1::MemoryState& state);
  absl::Status DeleteMemory(absl::string_view name);

  // NOT_FOUND when there is no such snapshot.
  absl::StatusOr<v1::ExportFile> GetSnapshot(absl::string_view name);
  absl::Status PutSnapshot(absl::string_view name,
                           const v1::ExportFile& snapshot);
  absl::Status DeleteSnapshot(absl::string_view name);
  // Calls `visit` for the snapshots whose name sorts after `after`, in name
  // order, until it returns false.
  absl::Status ScanSnapshots(
      absl::string_view after,
      const std::function<bool(const std::string& name,
                               const v1::ExportFile& snapshot)>& visit);

  // Makes everything written so far durable on disk (memtables and WAL).
  absl::Status Flush();

 private:
  Store(const Options& options, std::unique_ptr<rocksdb::DB> db,
        std::vector<rocksdb::ColumnFamilyHandle*> handles);

  absl::Status Put(rocksdb::ColumnFamilyHandle* family, absl::string_view key,
                   const std::string& value);
  absl::Status Delete(rocksdb::ColumnFamilyHandle* family,
                      absl::string_view key);
  // Applies `batch` with the configured durability, timed.
  rocksdb::Status Write(rocksdb::WriteBatch* batch);

  Options options_;
  std::unique_ptr<rocksdb::DB> db_;
  // Owned; index 0 is the default family, then memories and snapshots.
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  rocksdb::ColumnFamilyHandle* memories_ = nullptr;
  rocksdb::ColumnFamilyHandle* snapshots_ = nullptr;
};

}  // namespace lrmem

#endif  // LRMEM_SERVER_STORE_H_
