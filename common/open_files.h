// Which processes hold a file open: the seed's troubleshooting step for "database is locked"
// (`lsof /path/to/aura.db`) done for the operator, so a busy error names who holds the database.
//
// Linux: every /proc/<pid>/fd/* link that resolves to the file (or its -wal, -shm or -journal),
// with /proc/<pid>/comm as the command. Only processes this one may inspect are seen (the same
// user, or with CAP_SYS_PTRACE); others are counted as not inspectable when /proc shows them.
// Windows: the Restart Manager's list of processes using the file (open_files_windows.cc).
// macOS and other Unixes: the list is empty and the message says to run lsof instead.
//
// Thread-safety: reads /proc only; safe from any thread. Costs one readlink per open file
// descriptor on the host: call it when reporting an error, never in a retry loop.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace aura {

struct FileHolder {
  int pid = 0;
  std::string command;  // /proc/<pid>/comm
};

// The processes other than this one that have `path` (or its -wal, -shm, -journal) open.
std::vector<FileHolder> ProcessesHolding(const std::string& path);

// How the operator finds the holders by hand on this platform ("run lsof "), to which the
// path is appended.
const char* HolderLookupFallback();

// `status` with "; held open by pid 123 (AuraApp), pid 456 (sqlite3)" added when it is kBusy
// and holders are found (", see lsof PATH" when none can be seen); any other status unchanged.
Status WithHolders(const Status& status, const std::string& path);

}  // namespace aura
