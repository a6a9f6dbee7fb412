package pack

import (
	"encoding/json"
	"fmt"
)

// CheckWinConfig reads an app's package.json and checks the Windows build
// asks for no elevation: build.win.requestedExecutionLevel must be
// "asInvoker", or absent (electron-builder's default is asInvoker). An
// elevated app would start the backend elevated too, and an installer that
// needs administrator rights breaks per-user auto-updates.
// electron-builder.yml and other config files are not read. The detail names
// "package.json"; callers reading another file prefix its path.
func CheckWinConfig(packageJSON []byte) Check {
	c := Check{Name: CheckWinConfigName}
	var pkg struct {
		Build *struct {
			Win *struct {
				Level *json.RawMessage `json:"requestedExecutionLevel"`
			} `json:"win"`
		} `json:"build"`
	}
	if err := json.Unmarshal(packageJSON, &pkg); err != nil {
		c.Detail = fmt.Sprintf("package.json: not the JSON object expected (build.win an object): %v", err)
		return c
	}
	switch {
	case pkg.Build == nil:
		c.OK, c.Detail = true, "package.json has no build section: default asInvoker"
		return c
	case pkg.Build.Win == nil:
		c.OK, c.Detail = true, "package.json build has no win section: default asInvoker"
		return c
	case pkg.Build.Win.Level == nil || string(*pkg.Build.Win.Level) == "null":
		c.OK, c.Detail = true, "package.json build.win.requestedExecutionLevel not set: default asInvoker"
		return c
	}
	var level string
	if err := json.Unmarshal(*pkg.Build.Win.Level, &level); err != nil {
		c.Detail = fmt.Sprintf("package.json build.win.requestedExecutionLevel is %s, not a string", *pkg.Build.Win.Level)
		return c
	}
	switch level {
	case "asInvoker":
		c.OK, c.Detail = true, "package.json build.win.requestedExecutionLevel is asInvoker"
	case "requireAdministrator", "highestAvailable":
		c.Detail = fmt.Sprintf("package.json build.win.requestedExecutionLevel is %q: the app (and the backend it spawns) would run elevated; use \"asInvoker\"", level)
	default:
		c.Detail = fmt.Sprintf("package.json build.win.requestedExecutionLevel is %q, not one of asInvoker, highestAvailable, requireAdministrator", level)
	}
	return c
}
