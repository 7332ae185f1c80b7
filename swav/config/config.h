// TOML experiment files -> ExperimentOptions. The one place where configuration text is parsed.
#pragma once
#include <string>
#include <vector>

#include "swav/config/options.h"

namespace swav {

/// Reads an experiment file and applies command-line overrides ("section.key=<TOML value>", e.g.
/// `swav.epsilon=0.03`, `model.prototypes=[100,100]`, `data.root="/data"`), then validates.
/// Every error is a UserError naming the file (and line where known), the key path and what was
/// expected: a TOML syntax error, an unknown key (with the nearest valid key suggested), a wrong type,
/// an out-of-range value, inconsistent fields (e.g. crops_for_assign outside the crops).
ExperimentOptions load_experiment(const std::string& path,
                                  const std::vector<std::string>& overrides = {});

/// Parses TOML text (as if read from `source_name`) into options; load_experiment's core.
ExperimentOptions parse_experiment(const std::string& toml_text, const std::string& source_name,
                                   const std::vector<std::string>& overrides = {});

/// Canonical TOML of resolved options: every key, fixed order and formatting. Parsing it gives the
/// same options back; it is what the store records and what the config hash is computed on.
std::string to_toml(const ExperimentOptions& options);

/// Stable hash (16 hex digits) of the resolved options, independent of key order and formatting.
std::string config_hash(const ExperimentOptions& options);

/// Checks ranges and cross-field rules; throws UserError naming the key. Called by the loaders.
void validate(const ExperimentOptions& options, const std::string& source_name);

}  // namespace swav
