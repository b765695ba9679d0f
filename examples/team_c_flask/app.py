# app.py — the case study's Step 3.3 ("After"), as written.
from flask import Flask, request, jsonify
import litellm
from genops import GenOps
from genops.providers.litellm import auto_instrument

app = Flask(__name__)

# Initialize GenOps and instrument LiteLLM
GenOps.init(config_path="genops.yaml")
auto_instrument(team="sales", project="competitive-intel")

@app.route('/analyze', methods=['POST'])
def analyze():
    data = request.json
    competitor = data['competitor']
    content = data['content']

    # GenOps automatically tracks, including fallbacks
    with GenOps.track(
        operation="competitor_analysis",
        competitor=competitor  # Custom attribute
    ):
        response = litellm.completion(
            model="gpt-4-turbo",
            messages=[{"role": "user", "content": f"Analyze competitor {competitor}: {content}"}],
            fallbacks=["claude-opus-4", "command-r-plus"]
        )

    return jsonify({"analysis": response.choices[0].message.content})
