# Demo intent policy: its PolicyData module `risk` (policies/policy-data/intent-risk.wat)
# lists blocked recipients and a value limit; calldata is limited by data.params.maxCalldataBytes.
package proofgate.intent

import rego.v1

blocked contains lower(a) if some a in data.wasm.risk.blocked

default allow := false

allow if {
  not lower(input.to) in blocked
  to_number(input.value) <= to_number(data.wasm.risk.maxValueWei)
  data.wasm.risk.calldataBytes <= data.params.maxCalldataBytes
}

deny contains "recipient is blocked" if lower(input.to) in blocked
deny contains "value above the PolicyData limit" if to_number(input.value) > to_number(data.wasm.risk.maxValueWei)
deny contains "calldata too long" if data.wasm.risk.calldataBytes > data.params.maxCalldataBytes
