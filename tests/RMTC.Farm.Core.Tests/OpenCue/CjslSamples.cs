namespace RMTC.Farm.Core.Tests.OpenCue;

/// <summary>Specs shaped as OpenCue's tools write them.</summary>
internal static class CjslSamples
{
    /// <summary>
    /// pyoutline's output as it really is: one line, the public id with two spaces, an empty job and layer
    /// <c>&lt;env /&gt;</c>, <c>&lt;outputs /&gt;</c>, a single service, and a FRAME_BY_FRAME depend between two layers.
    /// </summary>
    public const string PyOutlineTwoLayers =
        "<?xml version=\"1.0\"?><!DOCTYPE spec PUBLIC \"SPI Cue  Specification Language\" \"http://localhost:8080/spcue/dtd/cjsl-1.15.dtd\">"
        + "<spec><facility>local</facility><show>testing</show><shot>sh-010</shot><user>alice</user><email>alice@example.com</email><uid>1000</uid>"
        + "<job name=\"comp-v2\"><paused>False</paused><priority>1</priority><maxretries>2</maxretries><autoeat>False</autoeat><env />"
        + "<layers>"
        + "<layer name=\"prep\" type=\"Render\"><cmd>/bin/prep.sh #IFRAME#</cmd><range>1-4</range><chunk>1</chunk><cores>2.0</cores><memory>4g</memory>"
        + "<tags>general | desktop</tags><env /><services><service>shell</service></services><outputs /></layer>"
        + "<layer name=\"render\" type=\"Render\"><cmd>/bin/render.sh #IFRAME#</cmd><range>1-4</range><chunk>1</chunk><env /><services><service>shell</service></services><outputs /></layer>"
        + "</layers></job>"
        + "<depends><depend type=\"FRAME_BY_FRAME\" anyframe=\"False\"><depjob>comp-v2</depjob><deplayer>render</deplayer><onjob>comp-v2</onjob><onlayer>prep</onlayer></depend></depends>"
        + "</spec>";

    /// <summary>A training job as a wrangler writes it by hand (pretty-printed, one space in the public id).</summary>
    public static string Training(string layerBody = "", string jobBody = "", string cmd = "rmtc train --recipe denoiser --dataset ../datasets/patches --rounds 3 --seed 42",
        string range = "1-4", string user = "alice", string uid = "1000", string version = "1.15", string depends = "<depends />") => $"""
        <?xml version="1.0"?>
        <!DOCTYPE spec PUBLIC "SPI Cue Specification Language" "http://localhost:8080/spcue/dtd/cjsl-{version}.dtd">
        <spec>
          <facility>local</facility>
          <show>rnd</show>
          <shot>denoise</shot>
          <user>{user}</user>
          <uid>{uid}</uid>
          <job name="train-denoiser">
            <paused>False</paused>
            <maxretries>2</maxretries>
            {jobBody}
            <layers>
              <layer name="train" type="Render">
                <cmd>{cmd}</cmd>
                <range>{range}</range>
                <chunk>1</chunk>
                {layerBody}
                <services><service>shell</service></services>
              </layer>
            </layers>
          </job>
          {depends}
        </spec>
        """;
}
