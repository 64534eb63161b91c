// platform::FileLock's ownership, the same on every platform (the lock calls are in
// platform_posix.cc and platform_windows.cc).
#include <utility>

#include "common/platform.h"

namespace aura::platform {

FileLock::~FileLock() { Release(); }

FileLock::FileLock(FileLock&& other) noexcept
    : handle_(std::exchange(other.handle_, kNone)), path_(std::move(other.path_)) {}

FileLock& FileLock::operator=(FileLock&& other) noexcept {
  if (this != &other) {
    Release();
    handle_ = std::exchange(other.handle_, kNone);
    path_ = std::move(other.path_);
  }
  return *this;
}

}  // namespace aura::platform
