package proofgate.admission_test

import rego.v1

import data.proofgate.admission

params := {
	"allowAnonymous": false,
	"blockedCallers": ["key_blocked"],
	"modelAllowList": [{"model": "private", "callers": ["key_vip"]}],
	"maxPrice": 1000,
	"blockedCountries": ["XX"],
	"serviceHours": {"from": 6, "to": 22},
	"blockedUserAgents": ["*BadBot*"],
	"tiers": {"key_r": "restricted"},
}

base := {
	"caller": "key_ok", "model": "public", "version": 1, "price": "10", "method": "POST",
	"path": "/v1/models/public/infer", "headers": {"user-agent": "agent/1"}, "time": "2026-11-25T10:00:00Z",
}

test_admits_a_known_caller if {
	admission.allow with input as base with data.params as params
}

test_denies_anonymous_callers if {
	reasons := admission.deny with input as object.union(base, {"caller": null}) with data.params as params
	reasons == {"anonymous callers are not admitted"}
}

test_denies_blocked_callers_and_countries if {
	inp := object.union(base, {"caller": "key_blocked", "headers": {"cf-ipcountry": "XX"}})
	reasons := admission.deny with input as inp with data.params as params
	reasons == {"caller key_blocked is blocked", "requests from XX are not served"}
}

test_private_models_need_the_allow_list if {
	not admission.allow with input as object.union(base, {"model": "private"}) with data.params as params
	admission.allow with input as object.union(base, {"model": "private", "caller": "key_vip"}) with data.params as params
}

test_price_limit_and_hours if {
	not admission.allow with input as object.union(base, {"price": "1001"}) with data.params as params
	not admission.allow with input as object.union(base, {"time": "2026-11-25T23:30:00Z"}) with data.params as params
}

test_restricted_tier_keeps_to_version_one if {
	admission.allow with input as object.union(base, {"caller": "key_r"}) with data.params as params
	not admission.allow with input as object.union(base, {"caller": "key_r", "version": 2}) with data.params as params
}
