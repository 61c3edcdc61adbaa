#include "client/examples/population_table.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"

namespace cohort::client {

absl::StatusOr<PopulationSchema> ReadPopulation(SqliteDb* db,
                                                const std::string& name) {
  if (absl::Status valid = ValidatePopulationName(name); !valid.ok()) {
    return db->Fail(absl::StatusCode::kInvalidArgument, valid.message());
  }
  COHORT_ASSIGN_OR_RETURN(
      SqliteStatement select,
      db->Prepare("SELECT shape, num_classes, dtype FROM populations "
                  "WHERE name = ?1"));
  COHORT_ASSIGN_OR_RETURN(const bool defined, select.BindText(1, name).Step());
  if (!defined) {
    return db->Fail(absl::StatusCode::kNotFound,
                    absl::StrCat("population '", name,
                                 "' is not defined; define it first"));
  }
  const std::string shape_text = select.ColumnText(0);
  absl::StatusOr<std::vector<int64_t>> shape = ParseShapeColumn(shape_text);
  const int64_t num_classes = select.ColumnInt64(1);
  const std::string dtype = select.ColumnText(2);
  if (!shape.ok() || num_classes < 2 || num_classes > kMaxNumClasses) {
    return db->Fail(
        absl::StatusCode::kDataLoss,
        absl::StrCat("population '", name, "' has a stored shape '", shape_text,
                     "' and ", num_classes, " classes that no schema allows"));
  }
  if (dtype != kFeatureDtype) {
    return db->Fail(
        absl::StatusCode::kFailedPrecondition,
        absl::StrCat("population '", name, "' stores ", dtype,
                     " features; this build reads ", kFeatureDtype));
  }
  PopulationSchema schema;
  schema.name = name;
  schema.shape = *std::move(shape);
  schema.num_classes = static_cast<int>(num_classes);
  return schema;
}

absl::StatusOr<int64_t> PopulationSize(SqliteDb* db, const std::string& name) {
  COHORT_ASSIGN_OR_RETURN(
      SqliteStatement select,
      db->Prepare("SELECT num_examples FROM populations WHERE name = ?1"));
  COHORT_ASSIGN_OR_RETURN(const bool defined, select.BindText(1, name).Step());
  return defined ? select.ColumnInt64(0) : 0;
}

absl::Status WritePopulation(SqliteDb* db, const PopulationSchema& schema,
                             bool replace) {
  COHORT_ASSIGN_OR_RETURN(
      SqliteStatement write,
      db->Prepare(replace ? "UPDATE populations SET shape = ?2, "
                            "num_classes = ?3, dtype = ?4 WHERE name = ?1"
                          : "INSERT INTO populations(name, shape, "
                            "num_classes, dtype) VALUES (?1, ?2, ?3, ?4)"));
  return write.BindText(1, schema.name)
      .BindText(2, ShapeColumn(schema.shape))
      .BindInt64(3, schema.num_classes)
      .BindText(4, kFeatureDtype)
      .Run();
}

}  // namespace cohort::client
