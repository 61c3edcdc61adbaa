#ifndef COHORT_CLIENT_EXAMPLES_POPULATION_TABLE_H_
#define COHORT_CLIENT_EXAMPLES_POPULATION_TABLE_H_

// Internal to client/examples: rows of an example store's populations
// table. Callers hold the store's lock and, where it matters, a
// transaction.

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/examples/population_schema.h"
#include "client/examples/sqlite_db.h"

namespace cohort::client {

// populations.dtype of the one feature type this version stores.
inline constexpr char kFeatureDtype[] = "float32";

// The stored schema of population `name`. INVALID_ARGUMENT for a malformed
// name; NOT_FOUND if it is not defined; DATA_LOSS for a stored shape or
// class count that no schema allows (a hand-edited file);
// FAILED_PRECONDITION for a dtype this version does not read.
absl::StatusOr<PopulationSchema> ReadPopulation(SqliteDb* db,
                                                const std::string& name);

// How many examples population `name` holds (populations.num_examples,
// expired ones included); 0 if it is not defined.
absl::StatusOr<int64_t> PopulationSize(SqliteDb* db, const std::string& name);

// Inserts `schema` as a new population, or, with `replace`, overwrites the
// stored schema of the population of that name. Codes of SqliteDb.
absl::Status WritePopulation(SqliteDb* db, const PopulationSchema& schema,
                             bool replace);

}  // namespace cohort::client

#endif  // COHORT_CLIENT_EXAMPLES_POPULATION_TABLE_H_
