// fuzz_smoke TARGET SECONDS [SEED]: the fuzz targets in the ordinary (GCC, uninstrumented) build,
// so that `make test` exercises every one of them for a few seconds without clang.
//
// It is not libFuzzer: there is no coverage feedback and no sanitizer, so it finds only what a
// crash, an exception other than UserError or an abort reveals. It replays fuzz/regressions/TARGET
// and fuzz/corpus/TARGET, then feeds the target mutants of the seeds (bit flips, bytes set to
// boundary values, 32-bit fields set to boundary sizes, cuts, insertions, duplicated and spliced
// ranges) from a fixed random seed until SECONDS have passed. Any input that escapes is written to
// fuzz_smoke_<TARGET>_crash (in the current folder) before the process dies, for
// `build-sanitize/bin/fuzz_TARGET <file>` to replay under the sanitizers.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#ifndef SWAV_FUZZ_DIR
#error "SWAV_FUZZ_DIR: the fuzz/ folder of the sources"
#endif

#define SWAV_DECLARE_TARGET(name) extern "C" int swav_fuzz_##name(const uint8_t* data, size_t size);
SWAV_DECLARE_TARGET(config)
SWAV_DECLARE_TARGET(idx)
SWAV_DECLARE_TARGET(cifar)
SWAV_DECLARE_TARGET(image)
SWAV_DECLARE_TARGET(image_cache)
SWAV_DECLARE_TARGET(checkpoint)
#undef SWAV_DECLARE_TARGET

namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;
using Target = int (*)(const uint8_t*, size_t);

const std::map<std::string, Target>& targets() {
  static const std::map<std::string, Target> all = {{"config", swav_fuzz_config},
                                                    {"idx", swav_fuzz_idx},
                                                    {"cifar", swav_fuzz_cifar},
                                                    {"image", swav_fuzz_image},
                                                    {"image_cache", swav_fuzz_image_cache},
                                                    {"checkpoint", swav_fuzz_checkpoint}};
  return all;
}

std::vector<Bytes> read_folder(const fs::path& dir) {
  std::vector<fs::path> paths;
  if (fs::is_directory(dir))
    for (const auto& e : fs::directory_iterator(dir))
      if (e.is_regular_file()) paths.push_back(e.path());
  std::sort(paths.begin(), paths.end());  // the same order, so the same mutants, everywhere
  std::vector<Bytes> out;
  for (const auto& p : paths) {
    std::ifstream in(p, std::ios::binary);
    out.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return out;
}

// The input being run, written out if the process dies on it (std::terminate, an abort).
std::string g_name;
const Bytes* g_current = nullptr;
// This program's own messages; the readers' warnings on stderr go to /dev/null (thousands of
// "ignoring unusable image cache" lines would drown them).
FILE* g_report = stderr;

void save_current() {
  if (g_current == nullptr) return;
  const std::string path = "fuzz_smoke_" + g_name + "_crash";
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(g_current->data()),
            static_cast<std::streamsize>(g_current->size()));
  std::fprintf(g_report, "fuzz_smoke: the input is in %s\n", path.c_str());
}

int run_one(Target target, const Bytes& input) {
  g_current = &input;
  try {
    target(input.data(), input.size());
  } catch (const std::exception& e) {
    std::fprintf(g_report, "fuzz_smoke %s: an input escaped with %s\n", g_name.c_str(), e.what());
    save_current();
    return 1;
  }
  g_current = nullptr;
  return 0;
}

Bytes mutate(const std::vector<Bytes>& seeds, std::mt19937_64& rng) {
  auto pick = [&](size_t n) { return n == 0 ? size_t{0} : static_cast<size_t>(rng() % n); };
  Bytes b = seeds[pick(seeds.size())];
  const int rounds = 1 + static_cast<int>(rng() % 4);
  for (int r = 0; r < rounds; ++r) {
    switch (rng() % 8) {
      case 0:  // flip one bit
        if (!b.empty()) b[pick(b.size())] ^= static_cast<uint8_t>(1u << (rng() % 8));
        break;
      case 1: {  // a byte set to a boundary value
        static const uint8_t values[] = {0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff};
        if (!b.empty()) b[pick(b.size())] = values[rng() % 6];
        break;
      }
      case 2: {  // a 32-bit little-endian field set to a boundary size
        static const uint32_t values[] = {0,          1,      0x7fffffff, 0x80000000,
                                          0xffffffff, 0xffff, 1u << 20};
        if (b.size() >= 4) {
          const size_t at = pick(b.size() - 3);
          const uint32_t v = values[rng() % 7];
          for (int i = 0; i < 4; ++i) b[at + i] = static_cast<uint8_t>(v >> (8 * i));
        }
        break;
      }
      case 3:  // cut short
        b.resize(pick(b.size() + 1));
        break;
      case 4: {  // remove a range
        if (b.empty()) break;
        const size_t at = pick(b.size()), n = 1 + pick(std::min<size_t>(64, b.size() - at));
        b.erase(b.begin() + static_cast<std::ptrdiff_t>(at),
                b.begin() + static_cast<std::ptrdiff_t>(std::min(b.size(), at + n)));
        break;
      }
      case 5: {  // insert random bytes
        const size_t at = pick(b.size() + 1), n = 1 + pick(16);
        Bytes noise(n);
        for (auto& x : noise) x = static_cast<uint8_t>(rng());
        b.insert(b.begin() + static_cast<std::ptrdiff_t>(at), noise.begin(), noise.end());
        break;
      }
      case 6: {  // duplicate a range in place
        if (b.empty()) break;
        const size_t at = pick(b.size()), n = 1 + pick(std::min<size_t>(256, b.size() - at));
        const Bytes range(b.begin() + static_cast<std::ptrdiff_t>(at),
                          b.begin() + static_cast<std::ptrdiff_t>(at + n));
        b.insert(b.begin() + static_cast<std::ptrdiff_t>(pick(b.size() + 1)), range.begin(),
                 range.end());
        break;
      }
      default: {  // splice: this input's head, another seed's tail
        const Bytes& other = seeds[pick(seeds.size())];
        const size_t head = pick(b.size() + 1), from = pick(other.size() + 1);
        b.resize(head);
        b.insert(b.end(), other.begin() + static_cast<std::ptrdiff_t>(from), other.end());
        break;
      }
    }
  }
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3 || targets().count(argv[1]) == 0) {
    std::fprintf(stderr, "usage: fuzz_smoke TARGET SECONDS [SEED]\n  targets:");
    for (const auto& [name, _] : targets()) std::fprintf(stderr, " %s", name.c_str());
    std::fprintf(stderr, "\n");
    return 2;
  }
  g_name = argv[1];
  const Target target = targets().at(g_name);
  const double seconds = std::atof(argv[2]);
  std::mt19937_64 rng(argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 20261205);
  if (const int saved = ::dup(2), null = ::open("/dev/null", O_WRONLY); saved >= 0 && null >= 0) {
    ::dup2(null, 2);
    ::close(null);
    g_report = ::fdopen(saved, "w");
    std::setvbuf(g_report, nullptr, _IONBF, 0);
  }
  std::set_terminate([] {
    save_current();
    std::abort();
  });

  const fs::path dir(SWAV_FUZZ_DIR);
  const auto regressions = read_folder(dir / "regressions" / g_name);
  const auto seeds = read_folder(dir / "corpus" / g_name);
  if (seeds.empty()) {
    std::fprintf(g_report, "fuzz_smoke %s: no seeds in %s\n", g_name.c_str(),
                 (dir / "corpus" / g_name).c_str());
    return 2;
  }
  for (const auto& input : regressions)
    if (run_one(target, input) != 0) return 1;
  for (const auto& input : seeds)
    if (run_one(target, input) != 0) return 1;

  const auto start = std::chrono::steady_clock::now();
  const auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  long runs = 0;
  while (elapsed() < seconds) {
    const Bytes input = mutate(seeds, rng);
    if (run_one(target, input) != 0) return 1;
    ++runs;
  }
  std::printf(
      "fuzz_smoke %s: %zu regression input(s), %zu seed(s), %ld mutants in %.1f s, none "
      "escaped\n",
      g_name.c_str(), regressions.size(), seeds.size(), runs, elapsed());
  return 0;
}
