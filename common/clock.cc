#include "common/clock.h"

#include <cstdio>
#include <ctime>

namespace aura {

const Clock& SystemClock::Instance() {
  static const SystemClock kClock;
  return kClock;
}

int64_t ToUnixMicros(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}

TimePoint FromUnixMicros(int64_t us) {
  return TimePoint(std::chrono::duration_cast<TimePoint::duration>(std::chrono::microseconds(us)));
}

namespace {
struct Split {
  std::tm tm{};
  int64_t micros = 0;
};

Split SplitUtc(TimePoint t) {
  int64_t us = ToUnixMicros(t);
  int64_t secs = us >= 0 ? us / 1000000 : (us - 999999) / 1000000;
  Split s;
  s.micros = us - secs * 1000000;
  std::time_t tt = static_cast<std::time_t>(secs);
  gmtime_r(&tt, &s.tm);
  return s;
}
}  // namespace

std::string FormatRfc3339(TimePoint t, int digits) {
  Split s = SplitUtc(t);
  char buf[80];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d", s.tm.tm_year + 1900,
                s.tm.tm_mon + 1, s.tm.tm_mday, s.tm.tm_hour, s.tm.tm_min, s.tm.tm_sec);
  std::string out(buf);
  if (digits > 0) {
    char frac[24];
    std::snprintf(frac, sizeof frac, "%06lld", static_cast<long long>(s.micros));
    out += '.';
    out.append(frac, static_cast<size_t>(digits > 6 ? 6 : digits));
  }
  out += 'Z';
  return out;
}

std::string FormatCompactUtc(TimePoint t) {
  Split s = SplitUtc(t);
  char buf[80];
  std::snprintf(buf, sizeof buf, "%04d%02d%02dT%02d%02d%02d.%03dZ", s.tm.tm_year + 1900,
                s.tm.tm_mon + 1, s.tm.tm_mday, s.tm.tm_hour, s.tm.tm_min, s.tm.tm_sec,
                static_cast<int>(s.micros / 1000));
  return buf;
}

Result<TimePoint> ParseRfc3339(std::string_view text) {
  std::string str(text);
  int y, mo, d, h, mi, sec, consumed = 0;
  Status bad =
      InvalidArgument("'" + str + "' is not an RFC 3339 time; use e.g. 2026-11-24T20:14:05Z");
  if (std::sscanf(str.c_str(), "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec,
                  &consumed) != 6) {
    return bad;
  }
  size_t pos = static_cast<size_t>(consumed);
  int64_t micros = 0;
  if (pos < str.size() && str[pos] == '.') {
    int64_t scale = 100000;
    ++pos;
    size_t start = pos;
    while (pos < str.size() && str[pos] >= '0' && str[pos] <= '9') {
      micros += (str[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start) return bad;
  }
  int64_t offset_s = 0;
  if (pos < str.size() && (str[pos] == 'Z' || str[pos] == 'z')) {
    ++pos;
  } else if (pos < str.size() && (str[pos] == '+' || str[pos] == '-')) {
    int oh, om;
    if (std::sscanf(str.c_str() + pos + 1, "%2d:%2d", &oh, &om) != 2) return bad;
    offset_s = (oh * 3600 + om * 60) * (str[pos] == '+' ? 1 : -1);
    pos += 6;
  } else {
    return bad;
  }
  if (pos != str.size() || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) {
    return bad;
  }
  // TimePoint counts nanoseconds in 64 bits: it ends in 2262. A time outside what a backup can
  // carry is refused rather than overflowing (a fuzzed manifest's year 8084 did).
  if (y < 1970 || y > 2261) {
    return InvalidArgument("'" + str + "' is outside the times aura-agent handles (1970 to 2261)");
  }
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  int64_t secs = static_cast<int64_t>(timegm(&tm)) - offset_s;
  return FromUnixMicros(secs * 1000000 + micros);
}

}  // namespace aura
