# Demo admission policy: who may call which model, from where, at what price.
# input: {caller, model, version, price, method, path, headers, time}; data.params: see params below.
package proofgate.admission

import rego.v1

default allow := false

allow if {
	count(deny) == 0
}

deny contains "anonymous callers are not admitted" if {
	input.caller == null
	not data.params.allowAnonymous
}

deny contains sprintf("caller %s is blocked", [input.caller]) if {
	input.caller in data.params.blockedCallers
}

deny contains sprintf("caller %s may not use model %s", [input.caller, input.model]) if {
	some rule in data.params.modelAllowList
	rule.model == input.model
	not input.caller in rule.callers
}

deny contains sprintf("price %s exceeds the limit %d", [input.price, data.params.maxPrice]) if {
	to_number(input.price) > data.params.maxPrice
}

deny contains sprintf("method %s is not allowed", [input.method]) if {
	not input.method in {"POST"}
}

deny contains sprintf("requests from %s are not served", [country]) if {
	country := input.headers["cf-ipcountry"]
	country in data.params.blockedCountries
}

deny contains "outside service hours" if {
	hour := time.clock([time.parse_rfc3339_ns(input.time), "UTC"])[0]
	not within_hours(hour)
}

deny contains sprintf("user agent %q is not allowed", [ua]) if {
	ua := input.headers["user-agent"]
	some pattern in data.params.blockedUserAgents
	glob.match(pattern, [], ua)
}

within_hours(hour) if {
	hour >= data.params.serviceHours.from
	hour < data.params.serviceHours.to
}

tier := data.params.tiers[input.caller] if {
	input.caller != null
	data.params.tiers[input.caller]
} else := "standard"

deny contains sprintf("tier %s may not use version %d", [tier, input.version]) if {
	tier == "restricted"
	input.version > 1
}
