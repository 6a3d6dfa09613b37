using RMTC.Farm.Benchmarks;

return await BenchmarkMain.RunAsync(args);
