// Wiping secrets (keys, passphrases, key-file text) from memory once they are no longer needed,
// so a core dump, a swapped-out page or a later heap reuse does not carry them. OPENSSL_cleanse
// cannot be optimised away as a dead store the way memset can.
//
// What it cannot reach: copies the kernel, the C library or OpenSSL make on their own (the page
// cache of the key file, the environment a passphrase variable came from, the AES key schedule
// inside a freed EVP_CIPHER_CTX is cleansed by OpenSSL itself).
#pragma once

#include <openssl/crypto.h>

#include <cstddef>
#include <string>
#include <utility>

namespace aura {

inline void SecureWipe(void* p, size_t n) {
  if (n > 0) OPENSSL_cleanse(p, n);
}

// A std::string: its whole capacity (not only its size), then empty.
inline void SecureWipe(std::string& s) {
  s.resize(s.capacity());
  SecureWipe(s.data(), s.size());
  s.clear();
}

// A contiguous container of trivially copyable elements (std::array, std::vector).
template <typename C>
void SecureWipe(C& c) {
  SecureWipe(static_cast<void*>(c.data()), c.size() * sizeof(*c.data()));
}

// A std::string whose buffer is wiped when it is destroyed (a passphrase): every copy wipes its
// own. Used as a std::string everywhere else.
class SecretString : public std::string {
 public:
  using std::string::string;
  using std::string::operator=;
  SecretString() = default;
  SecretString(std::string s) : std::string(std::move(s)) {}  // NOLINT(google-explicit-constructor)
  SecretString(const SecretString&) = default;
  SecretString& operator=(const SecretString&) = default;
  SecretString(SecretString&&) = default;
  SecretString& operator=(SecretString&&) = default;
  ~SecretString() { SecureWipe(static_cast<std::string&>(*this)); }
};

// Wipes `v` when the scope ends, on every return path.
template <typename T>
class WipeOnExit {
 public:
  explicit WipeOnExit(T& v) : v_(v) {}
  ~WipeOnExit() { SecureWipe(v_); }
  WipeOnExit(const WipeOnExit&) = delete;
  WipeOnExit& operator=(const WipeOnExit&) = delete;
  WipeOnExit(WipeOnExit&&) = delete;
  WipeOnExit& operator=(WipeOnExit&&) = delete;

 private:
  T& v_;
};

}  // namespace aura
