package main

import "github.com/spf13/cobra"

// addContainerCommands adds the container commands, at the top level and
// under `strata container`, like Docker's CLI.
func (c *cli) addContainerCommands(root *cobra.Command) {
	ctr := group("container", "Manage containers")
	all := func() []*cobra.Command {
		return []*cobra.Command{
			c.runCommand(), c.createCommand(), c.startCommand(),
			c.stopCommand("stop", "Stop one or more running containers", false),
			c.stopCommand("restart", "Restart one or more containers", true),
			c.killCommand(), c.waitCommand(), c.pauseCommand(true), c.pauseCommand(false),
			c.renameCommand(), c.attachCommand(), c.execCommand(), c.logsCommand(), c.portCommand(),
			c.commitCommand(), c.diffCommand(), c.exportCommand(), c.cpCommand(),
			c.topCommand(), c.statsCommand(), c.updateCommand(),
		}
	}
	ctr.AddCommand(all()...)
	ctr.AddCommand(c.psCommand("ls", "list", "ps"), c.rmCommand("rm", "remove"),
		c.containerInspectCommand(), c.containerPruneCommand())
	root.AddCommand(all()...)
	root.AddCommand(ctr, c.psCommand("ps"), c.rmCommand("rm"), c.monitorCommand())
}
