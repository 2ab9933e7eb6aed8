# --------------------------------------------------------------------------------------------
# Copyright (c) amlk8s contributors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""The command table. Only names here: handlers and formatters are imported when a command runs."""

from azure.cli.core.commands import CliCommandType

from azext_amlk8s import _format


def load_command_table(loader, _):
    custom = CliCommandType(operations_tmpl='azext_amlk8s.custom#{}',
                            client_factory=_client_factory)

    with loader.command_group('amlk8s', custom_command_type=custom, is_preview=True) as g:
        g.custom_command('deploy', 'deploy', supports_no_wait=True, table_transformer=_format.deploy_table)
        g.custom_command('check', 'check', table_transformer=_format.check_table)
        g.custom_command('verify', 'verify', table_transformer=_format.verify_table)
        g.custom_show_command('show', 'show', table_transformer=_format.extension_table)
        g.custom_command('list', 'list_extensions', table_transformer=_format.extension_list_table)
        g.custom_command('update', 'update', supports_no_wait=True, table_transformer=_format.resource_table)
        g.custom_command('delete', 'delete', supports_no_wait=True, table_transformer=_format.resource_table)
        g.custom_command('wait', 'wait')
        g.custom_command('attach', 'attach', supports_no_wait=True, table_transformer=_format.resource_table)
        g.custom_command('detach', 'detach', supports_no_wait=True, table_transformer=_format.resource_table)


def _client_factory(cli_ctx, *_):
    from azext_amlk8s._client_factory import cf_extensions_client
    return cf_extensions_client(cli_ctx)
