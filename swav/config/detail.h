// Internal to swav/config: the table reader behind parse_experiment and the TOML value formatting
// shared by to_toml and the error messages. Not public API: only config/*.cpp include it.
#pragma once
#include <toml++/toml.h>

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "swav/config/options.h"

namespace swav::config_detail {

/// What a key holds: used in type errors and to read unquoted override values of string keys.
enum class KeyType {
  kString,
  kInteger,
  kFloat,
  kBoolean,
  kIntegerArray,
  kFloatArray,
  kTableArray,
  kTable
};

/// "a string", "an integer", "a float (or integer)", ...: the expectation in a type error.
std::string expected_text(KeyType type);

/// One key an experiment file may contain, as a dotted path ("swav.epsilon").
struct KeyInfo {
  std::string path;
  KeyType type;
};

/// State shared by all readers of one document.
struct ReadContext {
  std::string source;                                  // file name used in messages
  std::map<std::string, std::string> override_origin;  // key path -> "override `a.b=c`"
  // key path -> "file:line" for values merged from experiment files (composition copies nodes,
  // and copies lose their source position); "a.b[1].c" paths for elements of arrays.
  std::map<std::string, std::string> value_origin;
  std::map<std::string, std::string> table_origin;  // the same for tables (exact paths only)
  std::vector<KeyInfo>* schema_out = nullptr;    // when set, every key requested is appended to it
  const std::vector<KeyInfo>* schema = nullptr;  // every valid key, for "did you mean" suggestions
};

/// Where the value at `path` came from: "override `k=v`", "file:line", or just the file when the
/// value is a default (node == nullptr or without a position).
std::string where(const ReadContext& ctx, const std::string& path, const toml::node* node);

/// The valid key nearest to `path` (edit distance on the whole path, and on the last component for
/// keys put in the wrong section), or "" when nothing is close. `local` adds candidates.
std::string suggest_key(const std::string& path, const std::vector<KeyInfo>* schema,
                        const std::vector<std::string>& local = {});

/// Reads the keys of one table into C++ fields. Every key asked for is remembered, so finish() can
/// report whatever the table holds beyond them as unknown. A missing key leaves the field (its
/// default) untouched. With a null table every read is a no-op (a missing section), which is also
/// how the schema of valid keys is collected.
class TableReader {
 public:
  TableReader(const ReadContext& ctx, const toml::table* table, std::string prefix);

  void read(std::string_view key, std::string& out);
  void read(std::string_view key, int64_t& out);
  void read(std::string_view key, double& out);  // integers are accepted
  void read(std::string_view key, bool& out);
  void read(std::string_view key, std::vector<int64_t>& out);
  void read(std::string_view key, std::vector<double>& out);

  /// A sub-table ("[swav]"); a reader over nothing when absent.
  TableReader section(std::string_view key);
  /// An array of tables (`crops = [{...}]` or `[[augment.crops]]`): one reader per element, with
  /// prefix "key[i]". Returns false (and leaves `out` empty) when the key is absent.
  bool table_array(std::string_view key, std::vector<TableReader>& out);

  /// Throws UserError for the first key (in source order) that was never asked for.
  void finish() const;

 private:
  const toml::node* take(std::string_view key, KeyType type);
  std::string path_of(std::string_view key) const;
  [[noreturn]] void type_error(const std::string& path, const toml::node& node,
                               const std::string& expected) const;

  const ReadContext* ctx_;
  const toml::table* table_;
  std::string prefix_;
  std::vector<std::string> requested_;
};

/// TOML spellings of values: strings quoted and escaped, floats in the shortest form that reads
/// back to the same double (always with '.' or an exponent, so they stay floats), arrays inline.
std::string toml_string(const std::string& value);
std::string toml_float(double value);
std::string toml_array(const std::vector<int64_t>& values);
std::string toml_array(const std::vector<double>& values);
std::string toml_crop(const CropGroup& crop);

/// A node as TOML text, shortened for messages.
std::string node_text(const toml::node& node);
/// "string", "integer", "float", "boolean", "array", "table", ...
std::string node_type_name(const toml::node& node);

/// The table -> options conversion (one read per field of options.h).
ExperimentOptions read_options(const toml::table* root, const ReadContext& ctx);

/// Every key a file may hold (sections included, type kTable).
const std::vector<KeyInfo>& schema();

/// The schema entry of a settable key (not a section), or null.
const KeyInfo* find_key(const std::string& path);

/// "unknown key 'x'; did you mean 'y'?" for a dotted key that is not settable (or names a section),
/// prefixed with `origin`; throws UserError.
[[noreturn]] void unknown_key_error(const std::string& origin, const std::string& key);

/// Sets `key` (a valid dotted path) of `root` to a copy of `value`, creating sections as needed;
/// `origin` is what messages say about the value ("override `k=v`", "sweep ... (file:line)").
void set_value(toml::table& root, const std::string& key, const toml::node& value,
               const std::string& origin, ReadContext& ctx);

/// A file and everything it composes (`defaults = [...]`, recursively), merged: tables key by key,
/// every other value (arrays included) replaced by the later layer; the file itself last. The
/// top-level `defaults` keys are consumed. Origins of all values go to ctx.value_origin.
toml::table compose_file(const std::string& path, ReadContext& ctx);
/// The same for text already read, as if from the file `source_name` (defaults relative to it).
toml::table compose_text(const std::string& text, const std::string& source_name, ReadContext& ctx);

/// `s` without leading and trailing white space.
std::string trim(std::string_view s);

/// Sets one key of `root` from a command-line override "a.b.c=<TOML value>" (an unquoted value of
/// a string key is taken as written), creating sections as needed; a malformed override, an
/// unknown key or a value of the wrong type is a UserError naming the override.
void apply_override(toml::table& root, const std::string& text, ReadContext& ctx);

/// Compact TOML of a node for names and messages ("0.03", "[2,6]", "\"x\"").
std::string compact_text(const toml::node& node);

/// Checks ranges and cross-field rules; `locate(path)` says where the key's value came from.
void validate_options(const ExperimentOptions& options,
                      const std::function<std::string(const std::string&)>& locate);

}  // namespace swav::config_detail
