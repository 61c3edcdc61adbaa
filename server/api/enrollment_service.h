#ifndef COHORT_SERVER_API_ENROLLMENT_SERVICE_H_
#define COHORT_SERVER_API_ENROLLMENT_SERVICE_H_

#include "cohort/v1/coordinator.grpc.pb.h"
#include "common/base/clock.h"
#include "server/enrollment/fleet_ca.h"
#include "server/store/store.h"

namespace cohort::server {

// The enrollment port's service (coordinator.proto, service Enrollment):
// a single-use token and a CSR for its device id become a certificate from
// the fleet CA. The token is used (Store::UseEnrollmentToken, atomic across
// coordinators) only after the CSR has been checked and the certificate
// issued, so a bad CSR never spends a token. An enrollment and a refused
// token are logged with the device id and the first 8 characters of the
// token's hash, never the token; malformed requests are only answered.
// Borrows its arguments; thread-safe.
class EnrollmentService final : public cohort::v1::Enrollment::Service {
 public:
  EnrollmentService(const FleetCa* ca, Store* store, base::Clock* clock)
      : ca_(ca), store_(store), clock_(clock) {}

  grpc::Status Enroll(grpc::ServerContext* context,
                      const cohort::v1::EnrollRequest* request,
                      cohort::v1::DeviceCertificate* response) override;

 private:
  const FleetCa* const ca_;
  Store* const store_;
  base::Clock* const clock_;
};

}  // namespace cohort::server

#endif  // COHORT_SERVER_API_ENROLLMENT_SERVICE_H_
