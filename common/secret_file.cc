#include "common/secret_file.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "common/file_io.h"

namespace aura {

namespace {

bool OpenSecretFilesAllowed() {
  const char* v = std::getenv(kAllowOpenKeyFilesEnv);
  return v != nullptr && std::string_view(v) == "1";
}

// kKeyError when the group or other users may read, write or run `f`; see ReadSecretFile.
Status CheckOwnerOnly(const File& f, const std::string& what) {
#ifdef _WIN32
  (void)f;
  (void)what;
  return Status::Ok();
#else
  struct stat st;
  if (::fstat(f.fd(), &st) != 0) return ErrnoStatus(errno, "stat", f.path());
  if ((st.st_mode & 077) == 0) return Status::Ok();
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
  if (OpenSecretFilesAllowed()) {
    spdlog::warn("{} {} has mode {} (others may use it); read anyway because {}=1", what, f.path(),
                 mode, kAllowOpenKeyFilesEnv);
    return Status::Ok();
  }
  const char* access = (st.st_mode & 044) != 0 ? "read" : "change";
  return KeyError(what + " " + f.path() + " has mode " + mode + ", so other users may " + access +
                  " it; run 'chmod 600 " + f.path() + "' (on a file system without modes, set " +
                  kAllowOpenKeyFilesEnv + "=1)");
#endif
}

}  // namespace

Result<std::string> ReadSecretFile(const std::string& path, size_t max_bytes,
                                   const std::string& what) {
  AURA_ASSIGN_OR_RETURN(File f, File::OpenForRead(path));
  AURA_RETURN_IF_ERROR(CheckOwnerOnly(f, what));
  return ReadFileToString(f, max_bytes);
}

}  // namespace aura
