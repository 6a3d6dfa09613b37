using RMTC.Farm.Cli;

return await RmtcCommand.Create().Parse(args).InvokeAsync();
