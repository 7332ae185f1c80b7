#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <torch/torch.h>

#include <cstdlib>

int main(int argc, char* argv[]) {
  // ctest runs test processes side by side (-j): one intra-op thread each avoids oversubscribing
  // the cores, where OpenMP's spinning threads slow everything down many times over.
  // SWAV_TEST_THREADS overrides.
  const char* threads = std::getenv("SWAV_TEST_THREADS");
  at::set_num_threads(threads ? std::atoi(threads) : 1);
  return Catch::Session().run(argc, argv);
}
