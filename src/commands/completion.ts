/** `oci-image completion bash|zsh`: prints a shell completion script built from the program itself. */
import { Argument, Command } from "commander";
import type { CommandContext } from "./context.js";
import { describeProgram, renderBash, renderZsh } from "../ui/completion-script.js";

export function completionCommand(context: CommandContext): Command {
  return new Command("completion")
    .description("print a shell completion script")
    .addArgument(new Argument("<shell>", "the shell to complete for").choices(["bash", "zsh"]))
    .addHelpText(
      "after",
      `
Examples:
  source <(oci-image completion bash)                  # this bash session
  oci-image completion bash > /etc/bash_completion.d/oci-image
  oci-image completion zsh > "\${fpath[1]}/_oci-image"   # zsh, then restart it`,
    )
    .action((shell: "bash" | "zsh", _options: unknown, command: Command) => {
      let root = command;
      while (root.parent) root = root.parent;
      const spec = describeProgram(root);
      context.stdout.write(shell === "bash" ? renderBash(spec) : renderZsh(spec));
    });
}
