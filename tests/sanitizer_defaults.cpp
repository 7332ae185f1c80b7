// Default sanitizer options of the programs linked with the instrumented readers
// (swav_tests_sanitized, fuzz_smoke; SWAV_SANITIZE_READERS in CMakeLists.txt). The runtimes read
// these hooks at start-up, so the programs behave the same under ctest and run by hand;
// ASAN_OPTIONS and UBSAN_OPTIONS in the environment still take precedence.
extern "C" {

// Leak checks are off: LibTorch allocates operator and type registries at start-up and never frees
// them, so every run would report them. abort_on_error makes a report fail the test.
const char* __asan_default_options() {
  return "detect_leaks=0:abort_on_error=1:check_initialization_order=1:strict_init_order=1";
}

const char* __ubsan_default_options() {
  return "print_stacktrace=1:halt_on_error=1";
}

}  // extern "C"
