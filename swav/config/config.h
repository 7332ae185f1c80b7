// TOML experiment files -> ExperimentOptions. The one place where configuration text is parsed.
#pragma once
#include <string>
#include <vector>

#include "swav/config/options.h"

namespace swav {

/// Reads an experiment file and applies command-line overrides ("section.key=<TOML value>", e.g.
/// `swav.epsilon=0.03`, `model.prototypes=[100,100]`, `data.root="/data"`), then validates.
/// Every error is a UserError naming the file (and line where known), the key path and what was
/// expected: a TOML syntax error, an unknown key (with the nearest valid key suggested), a wrong
/// type, an out-of-range value, inconsistent fields (e.g. crops_for_assign outside the crops).
///
/// File layout = the struct layout of options.h: top-level keys name, method, db, run_dir; sections
/// [data] [augment] [model] [swav] [optim] [train] [eval] whose keys are the field names.
/// augment.crops is an array of tables {size, count, min_scale, max_scale} (inline or
/// [[augment.crops]]). Integers are accepted for floats, not the reverse; arrays must be arrays.
///
/// Overrides: the key must be one of valid_keys(); the value replaces the file's (arrays
/// wholesale); later overrides win. For string keys an unquoted value is taken literally
/// (`data.root=/tmp/x`, `train.device=cuda:0`); quote it ("..." or '...') for TOML string syntax.
/// Other values must be TOML: `swav.epsilon=0.03`, `optim.larc=false`,
/// `augment.crops=[{size=28,count=2,min_scale=0.3,max_scale=1.0}]`.
ExperimentOptions load_experiment(const std::string& path,
                                  const std::vector<std::string>& overrides = {});

/// Parses TOML text (as if read from `source_name`, which `defaults` paths are relative to) into
/// options; load_experiment's core. A file with a [sweep] is an error here: use load_plan.
ExperimentOptions parse_experiment(const std::string& toml_text, const std::string& source_name,
                                   const std::vector<std::string>& overrides = {});

/// One trial of an experiment: one point of its sweep, or the experiment itself without a sweep.
struct Trial {
  std::string name;    // "main" without a sweep, else "key=value,..." over the swept keys (sorted)
  std::string folder;  // the name made safe for a folder name; unique within the plan
  std::vector<std::pair<std::string, std::string>> values;  // swept key -> value label
  ExperimentOptions options;  // resolved and validated (defaults where `error` is set)
  std::string hash;           // config_hash(options); "" where `error` is set
  std::string error;          // why this trial's config is invalid; "" when it is valid
  std::string config_text;    // where `error` is set: the trial's merged TOML, for the record
};

/// An experiment file expanded into its trials.
struct ExperimentPlan {
  std::string source;             // the experiment file (or source name)
  std::string mode;               // "grid" or "zip"; "" without a sweep
  std::vector<std::string> axes;  // swept keys, sorted
  std::vector<Trial> trials;      // grid: the first axis varies slowest
};

/// Reads an experiment file with everything it composes (`defaults = [...]`), expands its [sweep]
/// and applies the overrides to every trial (after the sweep values; an override may not set a
/// swept key). Composition: each file named in `defaults` (relative to the naming file,
/// recursively; cycles are errors) is merged in order, then the file itself: tables key by key,
/// other values (arrays included) replaced. Sweep: `[sweep]` maps dotted keys to lists of values,
/// expanded as a grid (`mode = "grid"`, the default) or element-wise (`mode = "zip"`, equal
/// lengths). Errors name the file and line each value came from. Two trials with the same config
/// hash are an error. An error of the file, its composition, the sweep or an override throws
/// UserError; one that only some trials' values cause (e.g. a swept value out of range) is kept in
/// those trials' `error`, so that the other trials can still run.
ExperimentPlan load_plan(const std::string& path, const std::vector<std::string>& overrides = {});
ExperimentPlan parse_plan(const std::string& toml_text, const std::string& source_name,
                          const std::vector<std::string>& overrides = {});

/// Whether a trial name matches an --only pattern: a glob (`*`, `?`, `[...]`) when the pattern has
/// one of those characters, else a substring.
bool trial_matches(const std::string& trial_name, const std::string& pattern);

/// The store path an experiment file asks for (`db` override, else its top-level `db`), read
/// leniently so that a run whose config is invalid can still be recorded as failed in the right
/// store; "" when neither is there or the file cannot be read.
std::string peek_db(const std::string& path, const std::vector<std::string>& overrides = {});

/// Canonical TOML of resolved options: every key, fixed order and formatting. Parsing it gives the
/// same options back; it is what the store records and what the config hash is computed on.
std::string to_toml(const ExperimentOptions& options);

/// Stable hash (16 lowercase hex digits, 64-bit FNV-1a of hashed_toml) of the resolved options,
/// independent of key order and formatting of the source. Keys that cannot change results
/// (hash_excluded_keys(): name, db, run_dir, data.cache_dir, augment.workers, augment.prefetch,
/// train.threads, train.checkpoint_every, train.log_every, the collapse watch's settings) do not
/// enter it.
std::string config_hash(const ExperimentOptions& options);

/// The text config_hash hashes: to_toml without the hash_excluded_keys().
std::string hashed_toml(const ExperimentOptions& options);

/// Dotted paths of the keys left out of the hash.
std::vector<std::string> hash_excluded_keys();

/// Every dotted key path a file or override may set ("name", "swav.epsilon", "augment.crops", ...),
/// in file order. The keys inside a crop table (size, count, min_scale, max_scale) are not listed.
std::vector<std::string> valid_keys();

/// Values accepted for `method`, from the method list of swav/config/fields.h.
const std::vector<std::string>& known_methods();

/// One key of an experiment file, for reference output (`run_experiment --keys`).
struct KeyDoc {
  std::string path;           // "swav.epsilon"; "augment.crops[].size" inside arrays of tables;
                              // "[data]" for a section
  std::string type;           // "float", "integer", "string", "boolean", "array of ...", "section"
  std::string default_value;  // as TOML; "" for sections
  std::string doc;            // what it means, its unit, why its default
  bool hashed = true;         // whether it enters the config hash (when its method runs)
};

/// Every key and section, in file order, with its documentation (swav/config/fields.h).
std::vector<KeyDoc> key_docs();

/// Checks ranges and cross-field rules; throws UserError naming the key. Called by the loaders.
void validate(const ExperimentOptions& options, const std::string& source_name);

}  // namespace swav
