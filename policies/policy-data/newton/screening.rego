# A Newton-style policy over the screening pack (screening.js): `data.wasm.screening` is the pack's
# output (wrapped under its pack id, merged into data.wasm), `data.params.screening` its settings,
# and `input` Newton's intent fields. The screening API signs what it says; the policy trusts it
# only with that signature, checked with Newton's Rego extension.
package screening_gate

import rego.v1

default allow := false

v := data.wasm.screening

p := data.params.screening

allow if count(deny) == 0

deny contains "screening_failed" if v.error

deny contains "screening_not_attested" if not attested

deny contains "sender_sanctioned" if v.sanctioned

deny contains "risk_above_limit" if v.risk_score > p.max_risk_score

deny contains "screened_address_is_not_the_sender" if v.address != lower(input.from)

deny contains "recipient_blocked" if lower(input.decoded_function_arguments[0]) in p.blocked_recipients

deny contains "wrong_chain" if input.chain_id != p.chain_id

attested if {
	message := sprintf("%s:%v:%v", [v.address, v.sanctioned, v.risk_score])
	newton.crypto.ecdsa_recover_signer_personal(v.signature, message) == p.provider
}
