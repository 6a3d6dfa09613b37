using System.CommandLine;
using System.CommandLine.Help;
using RMTC.Farm.Cli;
using RMTC.Farm.Cli.Client;

var parse = RmtcCommand.Create().Parse(args);
if (parse.Action is HelpAction)
{
    // Help asked for wins over errors beside it, as System.CommandLine does.
    return await WriteHelpAsync(parse);
}

if (UsageErrors.Describe(parse) is { } problem)
{
    if (UsageErrors.IsBareGroup(parse))
    {
        // `rmtc` or `rmtc dataset` alone: the group's help is the answer.
        await WriteHelpAsync(RmtcCommand.Create().Parse([.. UsageErrors.CommandNames(parse), "--help"]));
    }
    else
    {
        await Console.Error.WriteLineAsync(problem);
    }

    return UsageErrors.ExitCode;
}

ClientAuth.Use(parse);
return await parse.InvokeAsync();

static async Task<int> WriteHelpAsync(ParseResult help)
{
    using var text = new StringWriter();
    var code = await help.InvokeAsync(new InvocationConfiguration { Output = text });
    await Console.Out.WriteAsync(OptionalArgumentsHelp.Mark(text.ToString(), help.CommandResult.Command));
    return code;
}
