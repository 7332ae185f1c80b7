#include "swav/dist/launch.h"

#include <cerrno>
#include <cstdlib>

#include "swav/util/error.h"

namespace swav {

namespace {

using Getenv = std::function<const char*(const char*)>;

/// The variable's value, or nullopt-like "" with `present` false.
struct Variable {
  std::string name;
  std::string value;
  bool present = false;
};

Variable variable(const Getenv& getenv, const char* name) {
  const char* v = getenv(name);
  if (v == nullptr) return {name, "", false};
  return {name, v, true};
}

int64_t parse_integer(const Variable& v, const char* what) {
  if (v.value.empty()) fail("{} is set but empty; expected {}", v.name, what);
  errno = 0;
  char* end = nullptr;
  const long long x = std::strtoll(v.value.c_str(), &end, 10);
  if (errno != 0 || end == v.value.c_str() || *end != '\0')
    fail("{}={}: expected {}", v.name, v.value, what);
  return static_cast<int64_t>(x);
}

/// An integer variable that must be present.
int64_t required(const Getenv& getenv, const char* name, const char* what, const char* launcher) {
  const auto v = variable(getenv, name);
  if (!v.present) fail("{} is not set ({} sets it); expected {}", name, launcher, what);
  return parse_integer(v, what);
}

/// SLURM_TASKS_PER_NODE is "4", "4(x2)" or "4(x2),3": the first node's count.
int64_t first_tasks_per_node(const Variable& v) {
  const auto end = v.value.find_first_of("(,");
  return parse_integer({v.name, v.value.substr(0, end), true}, "a task count such as 4 or 4(x2)");
}

void check(const LaunchInfo& info) {
  if (info.world_size < 1)
    fail("{}={}: the world size must be at least 1", info.world_variable, info.world_size);
  if (info.rank < 0 || info.rank >= info.world_size) {
    fail("{}={}: a rank must lie in [0, {}) ({}={})", info.rank_variable, info.rank,
         info.world_size, info.world_variable, info.world_size);
  }
  if (info.local_world_size < 1 || info.local_world_size > info.world_size) {
    fail("the local world size {} must lie in [1, {}] (the world size)", info.local_world_size,
         info.world_size);
  }
  if (info.local_rank < 0 || info.local_rank >= info.local_world_size) {
    fail("local rank {} must lie in [0, {}) (processes on this node)", info.local_rank,
         info.local_world_size);
  }
  if (!info.distributed()) return;
  if (info.master_addr.empty())
    fail("{} is not set: the host of rank 0, where the processes meet", info.addr_variable);
  if (info.master_port < 1 || info.master_port > 65535)
    fail("{}={}: expected a TCP port in 1-65535", info.port_variable, info.master_port);
}

}  // namespace

std::string first_slurm_host(const std::string& nodelist) {
  if (nodelist.empty())
    fail("SLURM_JOB_NODELIST is empty; expected host names such as node[01-04]");
  // The first entry ends at a comma outside brackets.
  size_t end = 0;
  int depth = 0;
  for (; end < nodelist.size(); ++end) {
    const char c = nodelist[end];
    if (c == '[') ++depth;
    if (c == ']') --depth;
    if (c == ',' && depth == 0) break;
    if (depth < 0 || depth > 1) break;
  }
  if (depth != 0) fail("SLURM_JOB_NODELIST={}: unbalanced brackets", nodelist);
  const std::string first = nodelist.substr(0, end);
  const auto open = first.find('[');
  if (open == std::string::npos) return first;
  const auto close = first.find(']', open);
  if (close == std::string::npos || open == 0)
    fail("SLURM_JOB_NODELIST={}: expected host names such as node[01-04]", nodelist);
  // "node[03-05,09]suffix" -> "node" + "03" + "suffix": the first number of the range list.
  const std::string ranges = first.substr(open + 1, close - open - 1);
  const std::string head = ranges.substr(0, ranges.find_first_of("-,"));
  if (head.empty()) fail("SLURM_JOB_NODELIST={}: an empty range in brackets", nodelist);
  return first.substr(0, open) + head + first.substr(close + 1);
}

LaunchInfo read_launch_environment(const std::function<const char*(const char*)>& getenv_in) {
  const Getenv getenv =
      getenv_in ? getenv_in : Getenv([](const char* n) { return std::getenv(n); });
  LaunchInfo info;
  const auto port = variable(getenv, "MASTER_PORT");
  const auto addr = variable(getenv, "MASTER_ADDR");
  if (variable(getenv, "RANK").present || variable(getenv, "WORLD_SIZE").present) {
    info.launcher = "torchrun";
    info.rank = required(getenv, "RANK", "the process's rank, an integer >= 0", "torchrun");
    info.world_size = required(getenv, "WORLD_SIZE", "the number of processes", "torchrun");
    const auto local = variable(getenv, "LOCAL_RANK");
    const auto local_world = variable(getenv, "LOCAL_WORLD_SIZE");
    info.local_rank = local.present ? parse_integer(local, "the rank on this node") : info.rank;
    info.local_world_size = local_world.present
                                ? parse_integer(local_world, "the number of processes on this node")
                                : info.world_size;
    info.master_addr = addr.value;
    info.master_port = port.present ? parse_integer(port, "a TCP port") : 0;
    const auto agent = variable(getenv, "TORCHELASTIC_USE_AGENT_STORE");
    info.agent_store =
        agent.present && (agent.value == "True" || agent.value == "true" || agent.value == "1");
  } else if (variable(getenv, "SLURM_PROCID").present) {
    info.launcher = "slurm";
    info.rank_variable = "SLURM_PROCID";
    info.world_variable = "SLURM_NTASKS";
    info.rank = required(getenv, "SLURM_PROCID", "the task's rank", "srun");
    info.world_size = required(getenv, "SLURM_NTASKS", "the number of tasks", "srun");
    const auto local = variable(getenv, "SLURM_LOCALID");
    info.local_rank = local.present ? parse_integer(local, "the task's rank on its node") : 0;
    const auto per_node = variable(getenv, "SLURM_NTASKS_PER_NODE");
    const auto tasks_per_node = variable(getenv, "SLURM_TASKS_PER_NODE");
    if (per_node.present) {
      info.local_world_size = parse_integer(per_node, "tasks per node");
    } else if (tasks_per_node.present) {
      info.local_world_size = first_tasks_per_node(tasks_per_node);
    } else {
      info.local_world_size = info.world_size;
    }
    if (addr.present) {
      info.master_addr = addr.value;
    } else {
      info.addr_variable = "SLURM_JOB_NODELIST";
      const auto nodes = variable(getenv, "SLURM_JOB_NODELIST");
      if (nodes.present) info.master_addr = first_slurm_host(nodes.value);
    }
    info.master_port = port.present ? parse_integer(port, "a TCP port") : 29500;
  }
  check(info);
  return info;
}

}  // namespace swav
