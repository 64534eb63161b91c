// WalWatch: wakes an idle database's shipping when its files change, instead of polling it.
//
// Linux: one inotify descriptor for the whole process, read by one thread (a fleet of 1,000
// databases is one descriptor and one watch per folder, not 1,000 instances: the kernel allows
// 128 per user by default), watching each database's folder for writes to, creation of or
// renames onto the database, its -wal and its -journal (the folder, because SQLite deletes and
// recreates the -wal when the last connection closes). A commit appends frames to the -wal with
// write(2), which inotify reports; so does a checkpoint's write to the database. An overflowed
// event queue counts as a change for every database. The callback is posted to the executor
// given to Open. Elsewhere Open returns null and the caller keeps polling.
//
// Not a replacement for the poll: the caller still polls at a long fallback interval, so a
// change inotify cannot see (a network filesystem) is shipped late, never lost.
//
// Thread-safety: AsyncWait and Cancel may be called from any thread; the callback runs on the
// executor given to Open (the database's strand).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <functional>
#include <memory>
#include <string>

namespace aura::agent {

class WalWatch {
 public:
  // Null when the platform has no inotify or the folder cannot be watched (then: poll).
  static std::unique_ptr<WalWatch> Open(const boost::asio::any_io_executor& executor,
                                        const std::string& db_path);
  virtual ~WalWatch() = default;

  // Calls `on_change` once, at the next change after this call (events before it are
  // discarded). A second AsyncWait replaces the first's callback.
  virtual void AsyncWait(std::function<void()> on_change) = 0;
  // Drops the pending callback, if any.
  virtual void Cancel() = 0;
};

}  // namespace aura::agent
