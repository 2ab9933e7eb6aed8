# --------------------------------------------------------------------------------------------
# Copyright (c) amlk8s contributors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Command loader for `az amlk8s`.

Every `az` invocation imports this module, so it must stay cheap: nothing here (or in the modules it
imports while the command table loads) may import an Azure SDK.
"""

from azure.cli.core import AzCommandsLoader

from azext_amlk8s._help import helps  # pylint: disable=unused-import


class Amlk8sCommandsLoader(AzCommandsLoader):

    def __init__(self, cli_ctx=None):
        from azure.cli.core.commands import CliCommandType
        custom_type = CliCommandType(operations_tmpl='azext_amlk8s.custom#{}')
        super().__init__(cli_ctx=cli_ctx, custom_command_type=custom_type)

    def load_command_table(self, args):
        from azext_amlk8s.commands import load_command_table
        load_command_table(self, args)
        return self.command_table

    def load_arguments(self, command):
        from azext_amlk8s._params import load_arguments
        load_arguments(self, command)


COMMAND_LOADER_CLS = Amlk8sCommandsLoader
