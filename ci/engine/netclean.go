package main

import (
	"sort"
	"strings"
)

// The engine's CNI plugins (bridge with ipMasq, firewall) add rules to the host's network
// namespace while containers run and leave some behind when the engine stops. `down` must undo
// exactly what belongs to our network and nothing else on the host, so the rules to delete are
// computed from `iptables -S` output by the pure functions below (table-tested without root).

// natCleanup returns the iptables argument lists that remove our network's NAT rules from the
// nat table listing `rules` (the output of `iptables -t nat -S`): every rule whose CNI comment
// names our network, then the CNI-* chains those rules jumped to (flushed, then deleted).
func natCleanup(rules, network string) [][]string {
	marker := `name: \"` + network + `\"`
	var cmds [][]string
	chains := map[string]bool{}
	for _, line := range strings.Split(rules, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "-A ") || !strings.Contains(line, marker) {
			continue
		}
		args := splitRule(line)
		if strings.HasPrefix(args[1], "CNI-") {
			continue // inside a per-container chain: goes with the chain's flush below
		}
		args[0] = "-D"
		cmds = append(cmds, append([]string{"-t", "nat"}, args...))
		for i := 0; i+1 < len(args); i++ {
			if args[i] == "-j" && strings.HasPrefix(args[i+1], "CNI-") {
				chains[args[i+1]] = true
			}
		}
	}
	names := make([]string, 0, len(chains))
	for c := range chains {
		names = append(names, c)
	}
	sort.Strings(names)
	for _, c := range names {
		cmds = append(cmds, []string{"-t", "nat", "-F", c}, []string{"-t", "nat", "-X", c})
	}
	return cmds
}

// filterCleanup removes the CNI firewall plugin's chains from the filter table, but only those
// that did not exist before `up` (preexisting lists chain names seen then): another CNI user on
// the host keeps its chains.
func filterCleanup(rules string, preexisting []string) [][]string {
	had := map[string]bool{}
	for _, c := range preexisting {
		had[c] = true
	}
	present := map[string]bool{}
	for _, line := range strings.Split(rules, "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == "-N" {
			present[f[1]] = true
		}
	}
	var cmds [][]string
	for _, line := range strings.Split(rules, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "-A ") {
			continue
		}
		args := splitRule(line)
		for i := 0; i+1 < len(args); i++ {
			if args[i] == "-j" && (args[i+1] == "CNI-FORWARD" || args[i+1] == "CNI-ADMIN") &&
				!had[args[i+1]] && !strings.HasPrefix(args[1], "CNI-") {
				args[0] = "-D"
				cmds = append(cmds, args)
				break
			}
		}
	}
	for _, c := range []string{"CNI-FORWARD", "CNI-ADMIN"} {
		if present[c] && !had[c] {
			cmds = append(cmds, []string{"-F", c}, []string{"-X", c})
		}
	}
	return cmds
}

// chainNames lists the user-defined chains in an `iptables -S` listing.
func chainNames(rules string) []string {
	var out []string
	for _, line := range strings.Split(rules, "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == "-N" {
			out = append(out, f[1])
		}
	}
	sort.Strings(out)
	return out
}

// splitRule splits one `iptables -S` line into arguments, honouring the double quotes iptables
// puts around comments (with \" inside them), so the rule can be handed back to `iptables -D`.
func splitRule(line string) []string {
	var args []string
	var cur strings.Builder
	inQuote, started := false, false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '\\' && inQuote && i+1 < len(line) && line[i+1] == '"':
			cur.WriteByte('"')
			i++
		case c == '"':
			inQuote = !inQuote
			started = true
		case c == ' ' && !inQuote:
			if started {
				args = append(args, cur.String())
				cur.Reset()
				started = false
			}
		default:
			cur.WriteByte(c)
			started = true
		}
	}
	if started {
		args = append(args, cur.String())
	}
	return args
}
