using RMTC.Farm.Cli;
using RMTC.Farm.Cli.Client;

var parse = RmtcCommand.Create().Parse(args);
ClientAuth.Use(parse);
return await parse.InvokeAsync();
