package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/pybundle/pybundle/pipeline/report"
)

// runMerge merges report.json files with report.Merge and prints the result on stdout:
//
//	pybundle-runner merge-reports [--summary FILE] linux/report.json darwin-arm64/report.json ... > report.json
//
// Tool and version must agree and no target/mode may appear twice (report.Merge's rules). The
// merged report is printed even when an entry has a failed check, but the exit status is then
// 1: a release must not ship what a report does not vouch for.
func (a *app) runMerge(args []string) error {
	fs := newFlagSet("merge-reports", a.stderr)
	summary := fs.String("summary", "", "also write the summary table to this file")
	if err := parseFlags(fs, args, true); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usageErr("merge-reports: give the report.json files to merge (flags first)")
	}
	rep, err := mergeReportFiles(fs.Args())
	if err != nil {
		return err
	}
	js, err := rep.JSON()
	if err != nil {
		return err
	}
	if _, err := a.stdout.Write(js); err != nil {
		return err
	}
	if *summary != "" {
		if err := os.WriteFile(*summary, []byte(rep.Table()), 0o644); err != nil {
			return err
		}
	}
	if !rep.OK() {
		return fmt.Errorf("merge-reports: the merged report has failed checks: %s", strings.Join(failedTargets(rep), ", "))
	}
	return nil
}

// mergeReportFiles parses each file (report.Parse: canonical order, duplicates refused) and
// folds them with report.Merge, naming the file an error comes from.
func mergeReportFiles(paths []string) (report.Report, error) {
	var out report.Report
	for i, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return report.Report{}, fmt.Errorf("merge-reports: %v", err)
		}
		r, err := report.Parse(b)
		if err != nil {
			return report.Report{}, fmt.Errorf("merge-reports: %s: %v", p, err)
		}
		if i == 0 {
			out = r
			continue
		}
		if out, err = report.Merge(out, r); err != nil {
			return report.Report{}, fmt.Errorf("merge-reports: %s: %v", p, err)
		}
	}
	return out, nil
}

// failedTargets names the entries and packages with a failed check.
func failedTargets(r report.Report) []string {
	var out []string
	for _, e := range r.Entries {
		if !e.OK() {
			out = append(out, e.Target+" "+e.Mode)
		}
	}
	for _, p := range r.Packages {
		for _, c := range p.Checks {
			if !c.OK {
				out = append(out, p.Target+" "+p.Name)
				break
			}
		}
	}
	return out
}
