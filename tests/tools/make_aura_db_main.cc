// aura-make-db PATH SIZE_MB [--seed N] [--journal wal|delete]: an Aura-like database for demos,
// tests and benchmarks (see aura_dataset.h).
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>

#include "tests/tools/aura_dataset.h"

int main(int argc, char** argv) {
  CLI::App app{"aura-make-db: create an Aura-like SQLite database of about SIZE_MB"};
  std::string path, journal = "wal";
  uint64_t size_mb = 16, seed = 1;
  app.add_option("path", path, "Database file to create (replaced)")->required();
  app.add_option("size_mb", size_mb, "Approximate size in MiB")
      ->required()
      ->check(CLI::Range(1, 1 << 20));
  app.add_option("--seed", seed, "Seed: the same seed and size give the same content");
  app.add_option("--journal", journal, "wal or delete")->check(CLI::IsMember({"wal", "delete"}));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  auto t0 = std::chrono::steady_clock::now();
  aura::testtools::AuraDbOptions o{path, size_mb << 20, seed, journal == "wal"};
  auto r = aura::testtools::GenerateAuraDb(o);
  if (!r.ok()) {
    std::fprintf(stderr, "aura-make-db: error: %s\n", r.status().message().c_str());
    return 1;
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("%s: %.1f MiB, %llu projects, %.1fs\n", path.c_str(), r->file_bytes / 1048576.0,
              static_cast<unsigned long long>(r->projects), secs);
  return 0;
}
