// make_tables --db PATH [--experiment NAME ...] [--format md|latex|csv] [--out DIR] [--plots]
// Regenerates paper-style tables (and SVG plots) from a results store; see swav/report/tables.h.
#include <fmt/format.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "swav/report/tables.h"
#include "swav/store/store.h"
#include "swav/util/error.h"

namespace {

constexpr const char* kUsage =
    R"(usage: make_tables --db PATH [options]

Builds one table per experiment from the finished runs in a results store: rows are the settings of
the config keys that vary between runs (seeds pooled as mean +- std), columns the evaluation metrics,
seconds per epoch and prototype usage; the best value per column is marked.

  --db PATH          the SQLite results store (required; never created)
  --experiment NAME  only this experiment (repeatable; default: every experiment with finished runs)
  --format FMT       md (default), latex or csv
  --out DIR          write <experiment>.<md|tex|csv> (and plots) into DIR (created if missing);
                     default: print the tables to stdout
  --plots            also write SVG plots (loss curves; accuracy vs each numeric swept key);
                     needs --out
  -h, --help         this text
)";

bool is_regular(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode);
}

bool is_directory(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
}

}  // namespace

int main(int argc, char** argv) {
  std::string db, out_dir, format_name = "md";
  std::vector<std::string> names;
  bool with_plots = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&](const char* what) {
      if (i + 1 >= argc) {
        fmt::print(stderr, "make_tables: {} needs {}\n", arg, what);
        std::exit(2);
      }
      return std::string(argv[++i]);
    };
    if (arg == "-h" || arg == "--help") {
      fmt::print("{}", kUsage);
      return 0;
    } else if (arg == "--db") {
      db = value("a path");
    } else if (arg == "--experiment") {
      names.push_back(value("a name"));
    } else if (arg == "--format") {
      format_name = value("md, latex or csv");
    } else if (arg == "--out") {
      out_dir = value("a folder");
    } else if (arg == "--plots") {
      with_plots = true;
    } else {
      fmt::print(stderr, "make_tables: unknown argument '{}'\n\n{}", arg, kUsage);
      return 2;
    }
  }
  if (db.empty()) {
    fmt::print(stderr, "make_tables: --db PATH is required\n\n{}", kUsage);
    return 2;
  }
  try {
    const auto format = swav::report::parse_format(format_name);
    if (with_plots && out_dir.empty()) swav::fail("--plots writes SVG files: give --out DIR too");
    if (!is_regular(db))
      swav::fail("--db {}: no such store (expected an existing SQLite file)", db);
    const swav::Store store(db, swav::Store::Access::kReadOnly);  // a reader never writes
    const auto outputs = swav::report::generate(store, names, format, with_plots);
    if (outputs.empty()) swav::fail("--db {}: no experiment has a finished run", db);
    if (out_dir.empty()) {
      for (size_t i = 0; i < outputs.size(); ++i)
        fmt::print("{}{}", i ? "\n" : "", outputs[i].second);
      return 0;
    }
    if (!is_directory(out_dir) && ::mkdir(out_dir.c_str(), 0755) != 0)
      swav::fail("--out {}: cannot create the folder: {}", out_dir, std::strerror(errno));
    for (const auto& [name, text] : outputs) {
      const std::string path = out_dir + "/" + name;
      std::ofstream file(path, std::ios::binary);
      file << text;
      if (!file) swav::fail("cannot write {}", path);
      fmt::print("wrote {}\n", path);
    }
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "make_tables: error: {}\n", e.what());
    return 1;
  }
}
