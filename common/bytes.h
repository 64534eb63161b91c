// Fixed-width little-endian integer encoding for on-disk formats we define (the archive format),
// and big-endian decoding for formats SQLite defines (database header, WAL).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

namespace aura {

inline void PutLE16(uint8_t* p, uint16_t v) {
  p[0] = uint8_t(v);
  p[1] = uint8_t(v >> 8);
}
inline void PutLE32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = uint8_t(v >> (8 * i));
}
inline void PutLE64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = uint8_t(v >> (8 * i));
}
inline uint16_t GetLE16(const uint8_t* p) { return uint16_t(p[0] | p[1] << 8); }
inline uint32_t GetLE32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = v << 8 | p[i];
  return v;
}
inline uint64_t GetLE64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = v << 8 | p[i];
  return v;
}
inline uint16_t GetBE16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }
inline uint32_t GetBE32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}
inline void PutBE32(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v >> 24);
  p[1] = uint8_t(v >> 16);
  p[2] = uint8_t(v >> 8);
  p[3] = uint8_t(v);
}
inline uint64_t GetBE64(const uint8_t* p) { return uint64_t(GetBE32(p)) << 32 | GetBE32(p + 4); }
inline void PutBE64(uint8_t* p, uint64_t v) {
  PutBE32(p, uint32_t(v >> 32));
  PutBE32(p + 4, uint32_t(v));
}

// Appends little-endian values to a byte string.
inline void AppendLE16(std::string& s, uint16_t v) {
  uint8_t b[2];
  PutLE16(b, v);
  s.append((char*)b, 2);
}
inline void AppendLE32(std::string& s, uint32_t v) {
  uint8_t b[4];
  PutLE32(b, v);
  s.append((char*)b, 4);
}
inline void AppendLE64(std::string& s, uint64_t v) {
  uint8_t b[8];
  PutLE64(b, v);
  s.append((char*)b, 8);
}

}  // namespace aura
