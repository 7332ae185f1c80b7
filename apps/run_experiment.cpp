#include <iostream>
int main() { std::cerr << "run_experiment: not wired yet\n"; return 1; }
