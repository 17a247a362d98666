package main

// validatePluginConfig is what the installer checks --plugin-config with (installer.Env): the
// decoding and planning every ADD does, so a config every ADD would refuse never reaches a node.
func validatePluginConfig(raw []byte) error {
	conf, err := decodeConf(raw)
	if err != nil {
		return err
	}
	_, err = planFromConf(conf)
	return err
}
