package screening_gate_test

import data.screening_gate
import rego.v1

# The provider key is anvil's dev account 1; the signatures are its EIP-191 signatures of
# "<address>:<sanctioned>:<risk_score>".
params := {"screening": {
	"provider": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
	"max_risk_score": 50,
	"blocked_recipients": ["0x000000000000000000000000000000000000dead"],
	"chain_id": "31337",
}}

sender := "0x1111111111111111111111111111111111111111"

clean := {"screening": {
	"address": sender,
	"sanctioned": false,
	"risk_score": 12,
	"signature": "0x2e74e17ca338316b9ebe7618b299ea786e83691452bd1e21ff8c19c5573547ad67c68e8ba7ec3ac50c0c75e817ad5ce44d83b8390172fb37a24725aa37b3b3ac1b",
	"checked_at": 1790000000,
}}

flagged := {"screening": object.union(clean.screening, {
	"sanctioned": true,
	"signature": "0x53067104a4da7cf248e22a2727d1739b0aa546a77f0cdf668e0748c810ab419a679798e8cd1b28ce02105dcbb7d410cc1fa799108910e790e3d73ea8bcbc8e101c",
})}

intent := {
	"from": sender,
	"chain_id": "31337",
	"decoded_function_arguments": ["0x2222222222222222222222222222222222222222", "1000"],
}

test_allows_a_clean_attested_sender if {
	screening_gate.allow with input as intent with data.wasm as clean with data.params as params
}

test_denies_a_sanctioned_sender if {
	screening_gate.deny == {"sender_sanctioned"} with input as intent with data.wasm as flagged with data.params as params
}

test_denies_data_the_provider_did_not_sign if {
	tampered := {"screening": object.union(clean.screening, {"risk_score": 3})}
	screening_gate.deny == {"screening_not_attested"} with input as intent with data.wasm as tampered with data.params as params
}

test_denies_a_blocked_recipient_from_the_decoded_call if {
	blocked := object.union(intent, {"decoded_function_arguments": ["0x000000000000000000000000000000000000dEaD", "1"]})
	screening_gate.deny == {"recipient_blocked"} with input as blocked with data.wasm as clean with data.params as params
}

test_denies_another_sender_and_chain if {
	other := object.union(intent, {"from": "0x3333333333333333333333333333333333333333", "chain_id": "1"})
	screening_gate.deny == {"screened_address_is_not_the_sender", "wrong_chain"} with input as other with data.wasm as clean with data.params as params
}

test_fails_closed_without_screening_data if {
	not screening_gate.allow with input as intent with data.wasm as {} with data.params as params
	screening_gate.deny == {"screening_not_attested"} with input as intent with data.wasm as {} with data.params as params
}
