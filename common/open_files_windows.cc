// ProcessesHolding on Windows: the Restart Manager (the API installers use to ask "who has this
// file open"), which sees every process's handles without administrator rights.
#include <windows.h>
// windows.h first: restartmanager.h uses its types.
#include <restartmanager.h>

#include <string>
#include <vector>

#include "common/open_files.h"
#include "common/win_util.h"

namespace aura {

std::vector<FileHolder> ProcessesHolding(const std::string& path) {
  std::vector<FileHolder> out;
  DWORD session = 0;
  WCHAR key[CCH_RM_SESSION_KEY + 1] = {};
  if (RmStartSession(&session, 0, key) != ERROR_SUCCESS) return out;
  std::vector<std::wstring> names;
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    names.push_back(win::Widen(path + suffix));
  }
  std::vector<LPCWSTR> files;
  for (const auto& n : names) files.push_back(n.c_str());
  if (RmRegisterResources(session, static_cast<UINT>(files.size()), files.data(), 0, nullptr, 0,
                          nullptr) == ERROR_SUCCESS) {
    UINT needed = 0;
    UINT count = 0;
    DWORD reasons = 0;
    std::vector<RM_PROCESS_INFO> info;
    DWORD rc = ERROR_MORE_DATA;
    while (rc == ERROR_MORE_DATA) {
      info.resize(needed);
      count = needed;
      rc = RmGetList(session, &needed, &count, info.data(), &reasons);
    }
    const DWORD self = GetCurrentProcessId();
    if (rc == ERROR_SUCCESS) {
      for (UINT i = 0; i < count; ++i) {
        const DWORD pid = info[i].Process.dwProcessId;
        if (pid == self) continue;
        out.push_back({static_cast<int>(pid), win::Narrow(info[i].strAppName)});
      }
    }
  }
  RmEndSession(session);
  return out;
}

const char* HolderLookupFallback() {
  return "see Resource Monitor, CPU, Associated Handles, searching for ";
}

}  // namespace aura
