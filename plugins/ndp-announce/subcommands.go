package main

import "github.com/ndp-announce/ndp-announce/pkg/config"

// validatePluginConfig is what the installer checks --plugin-config with (installer.Env): the
// decoding and planning every ADD does, so a config every ADD would refuse never reaches a node,
// and strictly: an operator's unknown or null key is a mistake ADD would only warn about.
func validatePluginConfig(raw []byte) error {
	conf, err := config.DecodeStrict(raw)
	if err != nil {
		return err
	}
	_, err = config.NewPlan(conf)
	return err
}
