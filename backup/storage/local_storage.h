// LocalStorage: a Storage in a local folder (or a mounted network share).
//
// Object "a/b/c" is the file "<root>/a/b/c". Writes go to "<dir>/.c.tmp-XXXXXX" beside the final
// name, are fsynced, renamed (renameat2 RENAME_NOREPLACE for no-overwrite), and the directory is
// fsynced, so a crash at any point leaves either the complete object or nothing under the final
// name. Temp files start with '.', which no valid object name does, so List never shows them;
// stale ones left by a crash are removed by RemoveAbandonedWrites.
//
// Modes: objects are 0640 and the folders this storage creates (the root included) 0750, exactly,
// whatever the umask: the agent's user writes, its group (`aura-agent` for the Debian package,
// INSTALL.md) may read the backups, others nothing. Folders that exist are left as they are.
//
// Folders: a folder is durable only once its parent is fsynced, and one that exists may not be (a
// run killed between its mkdir and that fsync left it in the page cache only; a power cut then
// takes every object acknowledged in it since). So the first write into a folder in a process
// fsyncs the parents up the chain (SyncFolderChain), and the storage remembers which folders it
// has made durable; later writes there cost no extra fsync. MakeDurable fsyncs every folder under
// the prefix (once per storage): what a killed writer renamed into place but never synced.
//
// Thread-safety: safe for concurrent use; the only state is the set of folders made durable,
// under a mutex.
#pragma once

#include <mutex>
#include <set>
#include <string>

#include "backup/storage/storage.h"

namespace aura::backup {

class LocalStorage final : public Storage {
 public:
  static constexpr int kObjectMode = 0640;
  static constexpr int kFolderMode = 0750;

  // `root` need not exist yet; it is created on the first write.
  explicit LocalStorage(std::string root);

  std::string Describe() const override { return root_; }
  Result<std::unique_ptr<ObjectWriter>> Create(const std::string& name,
                                               const WriteOptions& options) override;
  Result<std::unique_ptr<ObjectReader>> Open(const std::string& name, uint64_t offset,
                                             uint64_t length) override;
  Result<ObjectInfo> Stat(const std::string& name) override;
  Result<std::vector<ObjectInfo>> List(const std::string& prefix) override;
  Status Delete(const std::string& name) override;

  // Deletes the temp files of crashed writers (".<name>.tmp-XXXXXX") whose last change is at
  // least `older_than` old, under the root or only under the folder `under`.
  Result<int> RemoveAbandonedWrites(std::chrono::seconds older_than,
                                    const std::string& under = "") override;
  Status MakeDurable(const std::string& prefix) override;

  const std::string& root() const { return root_; }

 private:
  std::string PathOf(const std::string& name) const { return root_ + "/" + name; }
  // mkdir -p for the object's folder, made durable (see above) unless it is known to be.
  Status EnsureParentDirs(const std::string& name);

  std::string root_;
  std::mutex durable_mu_;
  std::set<std::string> durable_dirs_;  // folders whose own name this storage made durable
  std::set<std::string> synced_dirs_;   // folders whose entries MakeDurable made durable
};

}  // namespace aura::backup
