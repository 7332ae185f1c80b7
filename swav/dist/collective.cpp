#include "swav/dist/collective.h"

namespace swav {

Collective& single_process() {
  static SingleProcess instance;
  return instance;
}

}  // namespace swav
