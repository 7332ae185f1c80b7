// Checkpoints read from disk: the input is a file given to the PyTorch weights reader (model.init,
// --eval-only --weights) and, as a trial folder's checkpoint.pt beside a valid config.toml, to the
// reader of our own checkpoints (export_weights).
#include "fuzz/fuzz_target.h"
#include "swav/models/weights.h"
#include "swav/run/export.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace swav;
  static const bool ready = [] {
    fuzz::write_file("config.toml",
                     "name = \"fuzz\"\nmethod = \"swav\"\n[data]\nformat = \"synthetic\"\n"
                     "[model]\narch = \"convnet\"\nwidth = 0.25\nhidden_dim = 32\n"
                     "output_dim = 16\nprototypes = [20]\n[train]\nepochs = 2\n"
                     "[optim]\nwarmup_epochs = 0\n");
    return true;
  }();
  (void)ready;
  const std::string path = fuzz::write_file("checkpoint.pt", data, size);
  fuzz::expect_clean([&] { load_state_dict(path); });
  fuzz::expect_clean([&] { load_trained_network(path); });
  return 0;
}
